"""Answers: a response body parsed into what the model said, or why it is unusable.

Answers are parsed from the raw JSON body, not from the SDK's models, so a recorded
answer replayed from a cassette goes through exactly the same parser as a live one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pytest_toolcall.judge.matching import ToolCall


@dataclass(frozen=True)
class Answer:
    """What the model said for one request, or why there is no answer."""

    calls: tuple[ToolCall, ...] = ()
    text: str | None = None
    latency_ms: float | None = None
    total_tokens: int | None = None
    error: str | None = None


def parse_completion(payload: bytes, *, latency_ms: float | None) -> Answer:
    """A Chat Completions response body -> `Answer` (with `error` set when it is unusable)."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        snippet = payload[:80].decode("utf-8", "replace")
        return Answer(error=f"the server's answer is not JSON: {snippet!r}", latency_ms=latency_ms)
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return Answer(error="the server's answer has no choices", latency_ms=latency_ms)
    message = choices[0].get("message") or {}
    calls = tuple(
        ToolCall(
            name=str((call.get("function") or {}).get("name", "")),
            arguments=_arguments_text((call.get("function") or {}).get("arguments")),
        )
        for call in message.get("tool_calls") or ()
        if isinstance(call, dict)
    )
    usage = data.get("usage") or {}
    return Answer(
        calls=calls,
        text=message.get("content"),
        latency_ms=latency_ms,
        total_tokens=usage.get("total_tokens") if isinstance(usage, dict) else None,
    )


def _arguments_text(arguments: Any) -> str:
    # Some servers send an object instead of the JSON string the API specifies.
    return arguments if isinstance(arguments, str) else json.dumps(arguments)
