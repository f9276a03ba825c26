"""Redaction: credentials kept out of everything stored or shown, answers left as they are.

Secrets are kept out of cassettes by header name (see `cassettes.SCRUBBED_HEADERS`). By
value, only credentials are masked: the API key, organization and project ids, and the
values of extra headers that are sensitive by name or long enough to be a token. A short
value (`X-Region: home`, `X-Debug: 1`) is never substituted: it would rewrite answers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from pytest_toolcall.send.http import environment_headers

MASK = "<redacted>"
SECRET_ENV_VARS = ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")
SENSITIVE_HEADER_NAMES = frozenset(
    {"authorization", "api-key", "openai-organization", "openai-project", "cookie", "set-cookie"}
)
MIN_SECRET_CHARS = 6  # a credential shorter than this is not worth masking (nor safe to)
MIN_TOKEN_CHARS = 16  # an extra header's value this long is treated as a credential

# `"header": "value"` or `header: value` for headers never shown, e.g. in an echoed request.
_SECRET_HEADER_VALUE = re.compile(
    r"""(?ix)(["']?(?:authorization|api-key|openai-organization|openai-project|cookie|set-cookie
    |user-agent|x-stainless-[\w-]+)["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^,;}\r\n]+)"""
)


class Redactor:
    """Masks the run's credentials in text that is stored or shown."""

    def __init__(self, credentials: Iterable[str] = ()) -> None:
        # Longest first, so a key that contains another credential is masked whole.
        self.credentials = sorted(
            {value for value in credentials if len(value) >= MIN_SECRET_CHARS},
            key=len,
            reverse=True,
        )

    @classmethod
    def for_run(
        cls,
        api_key: str | None,
        headers: Mapping[str, str] = {},  # noqa: B006 - read only
        sensitive_names: Iterable[str] = (),
    ) -> Redactor:
        """The credentials of a run: key, org and project ids, credential-like headers
        (ours and `OPENAI_CUSTOM_HEADERS`')."""
        sensitive = SENSITIVE_HEADER_NAMES | {name.lower() for name in sensitive_names}
        header_values = [
            value
            for name, value in {**environment_headers(), **headers}.items()
            if name.lower() in sensitive or len(value) >= MIN_TOKEN_CHARS
        ]
        environment = [os.environ.get(name, "") for name in SECRET_ENV_VARS]
        return cls([api_key or "", *environment, *header_values])

    def mask(self, text: str) -> str:
        """`text` with every credential replaced by `<redacted>`."""
        for credential in self.credentials:
            if credential in text:
                text = text.replace(credential, MASK)
        return text

    def error_text(self, text: str) -> str:
        """An error message made safe to show: credentials masked, and the values of
        sensitive headers hidden (a failing server may echo the request)."""
        return _SECRET_HEADER_VALUE.sub(rf"\1{MASK}", self.mask(text))


def api_error_text(exc: Exception, redactor: Redactor) -> str:
    """`400 invalid model (code)` for an API error, the exception's text otherwise; one
    line, credentials masked."""
    import openai  # only here: replay never imports the SDK

    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, Mapping) else {}
        message = body.get("message") or exc.message
        code = body.get("code")
        text = f"{exc.status_code} {message}" + (f" ({code})" if code else "")
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(redactor.error_text(text).split())
