"""Send: request bodies, the HTTP transport with retries, parsing answers, redaction."""
