"""Batch API lines: request lines split into batches by the limits, answers read back.

An input line is `{custom_id, method, url, body}`; an output (or error) file line is
`{id, custom_id, response: {status_code, request_id, body}, error}`. An answer line becomes
the same `Answer` and `Exchange` a live request would have given, so the cassette records
it exactly as if live; a line that failed is an `error` answer with no exchange (never
recorded).
"""

from __future__ import annotations

import http
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_toolcall.send.answers import Answer, parse_completion
from pytest_toolcall.send.transport import Exchange

# The Batch API's limits per batch; module constants so tests can lower them.
MAX_BATCH_REQUESTS = 50_000
MAX_BATCH_BYTES = 200_000_000


def input_line(custom_id: str, endpoint: str, body: Mapping[str, Any]) -> bytes:
    """One JSONL line of a batch's input file."""
    line = {"custom_id": custom_id, "method": "POST", "url": endpoint, "body": body}
    return (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8", "surrogatepass")


def split(lines: Iterable[tuple[str, bytes]]) -> list[list[tuple[str, bytes]]]:
    """`(custom_id, line)` pairs in batches of at most MAX_BATCH_REQUESTS lines and
    MAX_BATCH_BYTES bytes, in order. A line over the byte limit alone is a batch alone
    (the caller refuses it)."""
    batches: list[list[tuple[str, bytes]]] = []
    size = 0
    for custom_id, line in lines:
        if (
            not batches
            or len(batches[-1]) >= MAX_BATCH_REQUESTS
            or size + len(line) > MAX_BATCH_BYTES
        ):
            batches.append([])
            size = 0
        batches[-1].append((custom_id, line))
        size += len(line)
    return batches


def read_results(data: bytes) -> tuple[dict[str, dict[str, Any]], int]:
    """An output or error file's lines by custom_id, and how many lines could not be read."""
    results: dict[str, dict[str, Any]] = {}
    unreadable = 0
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            results[str(record["custom_id"])] = record
        except (ValueError, KeyError, TypeError):
            unreadable += 1
    return results, unreadable


def result_answer(
    record: Mapping[str, Any], *, url: str, body: Mapping[str, Any], batch_id: str
) -> tuple[Answer, Exchange | None]:
    """The answer of one output line, with the exchange to record when there is one."""
    response = record.get("response")
    if isinstance(response, Mapping) and isinstance(response.get("status_code"), int):
        status = response["status_code"]
        answer_body = response.get("body")
        payload = (
            answer_body.encode("utf-8", "surrogatepass")
            if isinstance(answer_body, str)
            else json.dumps(answer_body, ensure_ascii=False).encode("utf-8", "surrogatepass")
        )
        if not 200 <= status < 300:
            return Answer(error=f"HTTP {status} in batch {batch_id}: {_message(answer_body)}"), None
        headers = {"content-type": "application/json"}
        if response.get("request_id"):
            headers["x-request-id"] = str(response["request_id"])
        exchange = Exchange(
            method="POST",
            url=url,
            request_headers={"content-type": "application/json"},
            request_body=json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"),
            status=status,
            reason=_reason(status),
            response_headers=headers,
            response_body=payload,
            latency_ms=None,  # type: ignore[arg-type]  # a batch line has no latency of its own
        )
        return parse_completion(payload, latency_ms=None), exchange
    error = record.get("error")
    if error:
        return Answer(error=f"failed in batch {batch_id}: {_message({'error': error})}"), None
    return Answer(error=f"batch {batch_id} gave a line without a response"), None


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _message(body: Any) -> str:
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping):
            code, message = error.get("code"), error.get("message")
            text = f"{code}: {message}" if code and message else str(message or code or error)
            return text[:300]
    return str(body)[:300]
