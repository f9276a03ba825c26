"""Answers: a response body parsed into what the model said, or why it is unusable.

Answers are parsed from the raw JSON body, not from the SDK's models, so a recorded
answer replayed from a cassette goes through exactly the same parser as a live one.

One parser reads both APIs' answers (a Chat Completions `chat.completion`, or a Responses
`response`: told apart by the body's own `object`), so cassettes of either replay alike.
In a Responses answer the `function_call` output items are the calls, in order (an answer
of calls alone is calls, not "no output"); the `message` items' `output_text` parts are the
text; `reasoning` and other items are not judged (a cassette keeps them, byte for byte).

The parser is strict about the shape of an answer and never raises: a
body that is not one (no choices, an HTML page, `{"error": ...}` sent with status 200, a
`message` that is not an object, `tool_calls` that is not a list, a call without a
function name, bytes that are not UTF-8 JSON) gives an `Answer` whose `error` says why in
one line. Such an answer is never recorded (see `Cassette.put`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pytest_toolcall.judge.matching import ToolCall

SNIPPET_CHARS = 80  # how much of an unusable body an error shows


@dataclass(frozen=True)
class Answer:
    """What the model said for one request, or why there is no answer."""

    calls: tuple[ToolCall, ...] = ()
    text: str | None = None
    latency_ms: float | None = None
    total_tokens: int | None = None
    error: str | None = None
    prompt_tokens: int | None = None  # input tokens: Chat's prompt_tokens, Responses' input_tokens
    completion_tokens: int | None = None  # output tokens (completion_tokens / output_tokens)


class _NotAnAnswer(Exception):
    """The body parsed, but it is not a usable Chat Completions answer."""


def parse_completion(payload: bytes | str, *, latency_ms: float | None) -> Answer:
    """A Chat Completions response body -> `Answer` (with `error` set when it is unusable)."""
    try:
        return _parse(payload, latency_ms)
    except _NotAnAnswer as exc:
        return Answer(error=f"the server's answer {exc}", latency_ms=latency_ms)
    except Exception as exc:  # noqa: BLE001 - never raise on any bytes: say why instead
        reason = _one_line(f"{type(exc).__name__}: {exc}")
        return Answer(error=f"the server's answer cannot be read ({reason})", latency_ms=latency_ms)


def _parse(payload: bytes | str, latency_ms: float | None) -> Answer:
    text = _text(payload)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise _NotAnAnswer(f"is not JSON: {_snippet(payload)}") from None
    if not isinstance(data, dict):
        raise _NotAnAnswer(f"is not a JSON object: {_snippet(payload)}")
    if data.get("error") is not None:
        raise _NotAnAnswer(f"is an error, though its status is 2xx: {_error_message(data)}")
    if data.get("object") == "response":
        return _parse_response(data, latency_ms)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _NotAnAnswer("has no choices")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise _NotAnAnswer(f"has a choice that is not an object: {_short(choice)}")
    message = choice.get("message")
    if not isinstance(message, dict):
        raise _NotAnAnswer(f"has a message that is not an object: {_short(message)}")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise _NotAnAnswer(f"has a message content that is not text: {_short(content)}")
    tool_calls = message.get("tool_calls")
    if tool_calls is None:
        tool_calls = []
    if not isinstance(tool_calls, list):
        raise _NotAnAnswer(f"has tool_calls that is not a list: {_short(tool_calls)}")
    calls = tuple(_tool_call(index, call) for index, call in enumerate(tool_calls))
    return Answer(
        calls=calls,
        text=content,
        latency_ms=latency_ms,
        **_usage(data, "prompt_tokens", "completion_tokens"),
    )


def _text(payload: bytes | str) -> str:
    """The body as text (a cassette holds it as text already); UTF-8 or not an answer."""
    try:
        if isinstance(payload, str):
            payload.encode("utf-8")  # (lone surrogates are not UTF-8)
            return payload
        return bytes(payload).decode("utf-8")
    except UnicodeError:
        if isinstance(payload, str):
            payload = payload.encode("utf-8", "surrogatepass")
        raise _NotAnAnswer(f"is not UTF-8 text: {_snippet(payload)}") from None


def _parse_response(data: dict[str, Any], latency_ms: float | None) -> Answer:
    """A Responses API answer: calls from `function_call` items, text from `message` items."""
    if data.get("status") == "failed":
        raise _NotAnAnswer("is a failed response: " + _short(data.get("error")))
    output = data.get("output")
    if not isinstance(output, list):
        raise _NotAnAnswer(f"has no output list: {_short(output)}")
    calls: list[ToolCall] = []
    texts: list[str] = []
    for index, item in enumerate(output):
        if not isinstance(item, dict):
            raise _NotAnAnswer(f"has output item {index} that is not an object: {_short(item)}")
        kind = item.get("type")
        if kind == "function_call":
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise _NotAnAnswer(f"has a function_call without a name: {_short(item)}")
            arguments = _arguments_text(item.get("arguments"))
            calls.append(ToolCall(name=name, arguments=arguments, id=_call_id(item.get("call_id"))))
        elif kind == "message":
            texts += _output_texts(index, item.get("content"))
    return Answer(
        calls=tuple(calls),
        text="".join(texts) if texts else None,
        latency_ms=latency_ms,
        **_usage(data, "input_tokens", "output_tokens"),
    )


def _output_texts(index: int, content: Any) -> list[str]:
    if content is None:
        return []
    if not isinstance(content, list):
        raise _NotAnAnswer(f"has message {index} whose content is not a list: {_short(content)}")
    texts = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "output_text":
            text = part.get("text")
            if not isinstance(text, str):
                raise _NotAnAnswer(f"has output_text that is not text: {_short(part)}")
            texts.append(text)
    return texts


def _usage(data: dict[str, Any], input_key: str, output_key: str) -> dict[str, int | None]:
    """Token counts, where the answer gives them as integers."""
    usage = data.get("usage")
    usage = usage if isinstance(usage, dict) else {}

    def count(key: str) -> int | None:
        value = usage.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return {
        "total_tokens": count("total_tokens"),
        "prompt_tokens": count(input_key),
        "completion_tokens": count(output_key),
    }


def _tool_call(index: int, call: Any) -> ToolCall:
    if not isinstance(call, dict):
        raise _NotAnAnswer(f"has tool call {index} that is not an object: {_short(call)}")
    function = call.get("function")
    if not isinstance(function, dict):
        raise _NotAnAnswer(f"has tool call {index} without a function: {_short(call)}")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise _NotAnAnswer(f"has tool call {index} without a function name: {_short(call)}")
    return ToolCall(
        name=name, arguments=_arguments_text(function.get("arguments")), id=_call_id(call.get("id"))
    )


def _call_id(value: Any) -> str:
    """The model's id of a call (a tool result answers it); "" when it gave none."""
    return value if isinstance(value, str) else ""


def _arguments_text(arguments: Any) -> str:
    # Some servers send an object instead of the JSON string the API specifies.
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _error_message(data: dict[str, Any]) -> str:
    error = data["error"]
    if isinstance(error, dict) and error.get("message") is not None:
        return _one_line(str(error["message"]))
    return _short(error)


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return _one_line(text)


def _snippet(payload: bytes) -> str:
    return repr(bytes(payload[:SNIPPET_CHARS]).decode("utf-8", "replace"))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 3] + "..."
