"""Transport: request bodies sent through `openai.AsyncOpenAI`, concurrently, with retries."""

from __future__ import annotations

import email.utils
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_toolcall.send.answers import Answer, parse_completion
from pytest_toolcall.send.bodies import request_path
from pytest_toolcall.send.redaction import Redactor

if TYPE_CHECKING:
    import openai

MAX_RETRY_AFTER_S = 60.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 20.0
BACKOFF_JITTER_S = 0.5
RETRYABLE_STATUS = frozenset({408, 409, 429})
NO_KEY_PLACEHOLDER = "no-key-set"
HTTP_LIBRARIES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2"})


@dataclass(frozen=True)
class Exchange:
    """One finished HTTP exchange, kept so it can be written to a cassette."""

    method: str
    url: str
    request_headers: Mapping[str, str]
    request_body: bytes
    status: int
    reason: str
    response_headers: Mapping[str, str]
    response_body: bytes
    latency_ms: float


@dataclass(frozen=True)
class SendSettings:
    """How requests go out: where, with which key, how patiently."""

    base_url: str | None
    api_key: str | None
    concurrency: int = 8
    timeout_s: float = 60.0
    retries: int = 3
    headers: Mapping[str, str] = field(default_factory=dict)  # extra, e.g. Azure's api-key


class TransientError(Exception):
    """A failure worth retrying; carries the server's Retry-After, if any."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Sender:
    """Sends one request body at a time through `openai.AsyncOpenAI`, with retries.

    Concurrency is the caller's (the engine bounds requests in flight); the client is made
    on first use, on the running loop, and closed by `aclose`.
    """

    def __init__(self, settings: SendSettings, redactor: Redactor | None = None) -> None:
        self.settings = settings
        self.redactor = redactor or Redactor.for_run(settings.api_key, settings.headers)
        self._client: openai.AsyncOpenAI | None = None
        self._response_class: type = object

    def open(self) -> None:
        """Import the SDK and make the client (on the loop's thread): done before the first
        request, so neither that request's latency nor its item's time includes it."""
        if self._client is None:
            import openai

            self._response_class = _sdk_response_class()
            self._client = openai.AsyncOpenAI(
                api_key=self.settings.api_key or NO_KEY_PLACEHOLDER,
                base_url=self.settings.base_url,
                max_retries=0,
                timeout=self.settings.timeout_s,
                default_headers=dict(self.settings.headers),
            )

    async def send(self, body: Mapping[str, Any]) -> tuple[Answer, Exchange | None]:
        """The answer to `body` (an `error` answer when there is none), and the exchange."""
        self.open()
        assert self._client is not None
        return await self._send_with_retries(self._client, body)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _send_with_retries(
        self, client: openai.AsyncOpenAI, body: Mapping[str, Any]
    ) -> tuple[Answer, Exchange | None]:
        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

        attempts = self.settings.retries + 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=_backoff,
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(client, body)
        except TransientError as exc:
            tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
            return Answer(error=self.redactor.error_text(f"no answer after {tries}: {exc}")), None
        raise AssertionError("unreachable: tenacity either returns or reraises")

    def _timed_out(self) -> TransientError:
        return TransientError(
            f"timed out after {self.settings.timeout_s:g} s (--toolcall-timeout); a server "
            "that answers fewer requests at once than --toolcall-concurrency "
            f"({self.settings.concurrency}) queues the rest: lower the concurrency, or "
            "raise the timeout"
        )

    async def _send_once(
        self, client: openai.AsyncOpenAI, body: Mapping[str, Any]
    ) -> tuple[Answer, Exchange | None]:
        import openai

        started = time.perf_counter()
        try:
            # client.post, not chat.completions.create: the body is sent exactly as built
            # (it is what the cassette hash covers), and create's per-request walk of the
            # params through the SDK's type hints cost ~1 ms of CPU per request.
            response = await client.post(
                request_path(body), cast_to=self._response_class, body=body
            )
        except openai.APITimeoutError:
            raise self._timed_out() from None
        except openai.APIConnectionError as exc:
            raise _unreachable(client, exc.__cause__ or exc) from None
        except openai.APIStatusError as exc:
            message = f"HTTP {exc.status_code} from {exc.request.url}: {_error_text(exc)}"
            if exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500:
                raise TransientError(message, _retry_after_s(exc.response.headers)) from None
            if exc.status_code == 401 and not self.settings.api_key:
                message += " (OPENAI_API_KEY is not set)"
            return Answer(error=self.redactor.error_text(message)), None
        except Exception as exc:
            # The SDK maps its HTTP library's errors, but an error of that library itself
            # (httpx/httpcore, 1 or 2) can still escape it: it is the network, not us.
            if type(exc).__module__.split(".")[0] not in HTTP_LIBRARIES:
                raise
            if "Timeout" in type(exc).__name__:
                raise self._timed_out() from None
            raise _unreachable(client, exc) from None
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        exchange = Exchange(
            method=response.request.method,
            url=str(response.request.url),
            request_headers=dict(response.request.headers),
            request_body=response.request.content,
            status=response.status_code,
            reason=response.reason_phrase,
            response_headers=dict(response.headers),
            response_body=response.content,
            latency_ms=latency_ms,
        )
        return parse_completion(response.content, latency_ms=latency_ms), exchange


def _unreachable(client: openai.AsyncOpenAI, cause: BaseException) -> TransientError:
    return TransientError(
        f"could not connect to {client.base_url} ({type(cause).__name__}: {cause}); "
        "is the server running? (--toolcall-base-url / OPENAI_BASE_URL)"
    )


def _sdk_response_class() -> type:
    """The HTTP response class of the library the openai SDK sends with (httpx or httpx2):
    as `cast_to`, it makes the SDK return the raw response."""
    import openai

    http_client_class = openai.DefaultAsyncHttpxClient.__mro__[1]
    return sys.modules[http_client_class.__module__.split(".")[0]].Response


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
    return str(exc.message)[:300]


def _retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    if value := headers.get("retry-after-ms"):
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _backoff(retry_state: Any) -> float:
    """Wait the server's Retry-After when given, else exponential backoff with jitter."""
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(exc, TransientError) and exc.retry_after_s is not None:
        return min(exc.retry_after_s, MAX_RETRY_AFTER_S)
    exponential = BACKOFF_FIRST_S * 2 ** (retry_state.attempt_number - 1)
    return min(exponential, BACKOFF_MAX_S) + random.uniform(0, BACKOFF_JITTER_S)
