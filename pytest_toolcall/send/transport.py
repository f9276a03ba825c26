"""Transport: request bodies sent over HTTP (the openai SDK's library), with retries."""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pytest_toolcall.send import http
from pytest_toolcall.send.answers import Answer, parse_completion
from pytest_toolcall.send.bodies import request_path
from pytest_toolcall.send.redaction import Redactor

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
    """Sends one request body at a time, with retries, through an `AsyncClient` of the HTTP
    library the openai SDK sends with (`send.http`), never importing the SDK itself.

    Concurrency is the caller's (the engine bounds requests in flight); the client is made
    by `open` (or on first use), on the running loop, and closed by `aclose`.
    """

    def __init__(self, settings: SendSettings, redactor: Redactor | None = None) -> None:
        self.settings = settings
        self.redactor = redactor or Redactor.for_run(settings.api_key, settings.headers)
        self._client: Any = None
        self._library: ModuleType | None = None
        self._connection_errors: tuple[type[BaseException], ...] = ()
        self._base_url: Any = None
        self._urls: dict[str, Any] = {}

    def open(self) -> None:
        """Import the HTTP library and make the client (on the loop's thread): done before
        the first request, so neither that request's latency nor its item's time includes
        it."""
        library = self._http_library()
        if self._client is None:
            import tenacity  # noqa: F401  (imported here for the same reason)

            key = self.settings.api_key or NO_KEY_PLACEHOLDER
            self._client = http.client(library, self.settings, key)

    async def send(self, body: Mapping[str, Any]) -> tuple[Answer, Exchange | None]:
        """The answer to `body` (an `error` answer when there is none), and the exchange."""
        self.open()
        assert self._client is not None
        return await self._send_with_retries(self._client, body)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http_library(self) -> ModuleType:
        if self._library is None:
            import ssl

            import anyio

            library = http.library()
            # What the SDK took for a connection failure: its library's request errors, TLS
            # errors, and a stream anyio saw end early.
            self._connection_errors = (library.RequestError, ssl.SSLError, anyio.EndOfStream)
            self._base_url = http.with_trailing_slash(library, http.base_url(self.settings))
            self._library = library
        return self._library

    def _url(self, path: str) -> Any:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = http.join(self._base_url, path)
        return url

    async def _send_with_retries(
        self, client: Any, body: Mapping[str, Any]
    ) -> tuple[Answer, Exchange | None]:
        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

        attempts = self.settings.retries + 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=_backoff,
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        url, content = self._url(request_path(body)), http.encode(body)
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(client, url, content)
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
        self, client: Any, url: Any, content: bytes
    ) -> tuple[Answer, Exchange | None]:
        library = self._http_library()
        started = time.perf_counter()
        try:
            # The body goes out exactly as built and encoded once (the cassette hash covers
            # it); headers, timeout and connection pool are the client's.
            response = await client.post(url, content=content)
        except library.TimeoutException:
            raise self._timed_out() from None
        except self._connection_errors as exc:
            raise _unreachable(self._base_url, exc) from None
        except Exception as exc:
            # An error of an HTTP library (httpx/httpcore, 1 or 2) that is not the client's
            # own class (a re-imported module's, say) is still the network, not us.
            if type(exc).__module__.split(".")[0] not in HTTP_LIBRARIES:
                raise
            if "Timeout" in type(exc).__name__:
                raise self._timed_out() from None
            raise _unreachable(self._base_url, exc) from None
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        status = response.status_code
        if not 200 <= status < 300:  # what the SDK raised for (httpx's raise_for_status)
            message = f"HTTP {status} from {response.request.url}: {_error_text(response)}"
            if status in RETRYABLE_STATUS or status >= 500:
                raise TransientError(message, _retry_after_s(response.headers))
            if status == 401 and not self.settings.api_key:
                message += " (OPENAI_API_KEY is not set)"
            return Answer(error=self.redactor.error_text(message)), None
        exchange = Exchange(
            method=response.request.method,
            url=str(response.request.url),
            request_headers=dict(response.request.headers),
            request_body=response.request.content,
            status=status,
            reason=response.reason_phrase,
            response_headers=dict(response.headers),
            response_body=response.content,
            latency_ms=latency_ms,
        )
        return parse_completion(response.content, latency_ms=latency_ms), exchange


def _unreachable(base_url: Any, cause: BaseException) -> TransientError:
    return TransientError(
        f"could not connect to {base_url} ({type(cause).__name__}: {cause}); "
        "is the server running? (--toolcall-base-url / OPENAI_BASE_URL)"
    )


def _error_text(response: Any) -> str:
    """What an error response says, as the SDK's status error gave it: the JSON body's
    `error.message`, else "Error code: <status>"."""
    text = response.text.strip()
    try:
        body: object = json.loads(text)
    except Exception:
        body = text
    if isinstance(body, dict):
        body = body.get("error", body)  # the SDK's `APIStatusError.body`
        if isinstance(body, dict):
            error = body.get("error", body)
            if isinstance(error, dict) and error.get("message"):
                return str(error["message"])[:300]
    message = f"Error code: {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        message += f" - {body['message']}"
    return message[:300]


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
