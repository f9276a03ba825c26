"""Redaction: secret values kept out of everything stored or shown."""

from __future__ import annotations

import re
from collections.abc import Iterable

# `"header": "value"` or `header: value` for headers never shown, e.g. in an echoed request.
_SECRET_HEADER_VALUE = re.compile(
    r"""(?ix)(["']?(?:authorization|api-key|openai-organization|openai-project|cookie|set-cookie
    |user-agent|x-stainless-[\w-]+)["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^,;}\r\n]+)"""
)
SECRET_ENV_VARS = ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


def redact_sensitive_headers(text: str) -> str:
    """`text` with the values of sensitive headers (as a failing server may echo them) hidden."""
    return _SECRET_HEADER_VALUE.sub(r"\1<redacted>", text)
