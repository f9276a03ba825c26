"""The fake server's answers: Chat Completions and Responses bodies from a scripted answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


def completion(body: Mapping[str, Any], answer: Mapping[str, Any], model: str | None) -> Any:
    if "choices" in answer:
        return {"id": "fake", "object": "chat.completion", "choices": answer["choices"]}
    calls = answer.get("calls") or ([answer] if "tool" in answer else [])
    tool_calls = [
        {
            "id": f"call_{index}",
            "type": "function",
            "function": {
                "name": call["tool"],
                "arguments": call.get("arguments_raw", json.dumps(call.get("args", {}))),
            },
        }
        for index, call in enumerate(calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": answer.get("text")}
    if tool_calls:
        message["tool_calls"] = tool_calls
    prompt_tokens = len(json.dumps(body)) // 4
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model or body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 10,
            "total_tokens": prompt_tokens + 10,
        },
    }


# ---- Responses API ------------------------------------------------------------------------


def prompt_of(body: Mapping[str, Any]) -> str:
    """The last user text of a Chat body's `messages` or a Responses body's `input`."""
    if "input" not in body:
        return last_user_text(body.get("messages", []))
    items = body["input"]
    if isinstance(items, str):
        return items
    for item in reversed(items):
        if item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        texts = [part.get("text", "") for part in content or () if part.get("type") == "input_text"]
        return "".join(texts)
    return ""


def response(body: Mapping[str, Any], answer: Mapping[str, Any], model: str | None) -> Any:
    """A Responses API answer (`object: response`) for a scripted answer."""
    if "output" in answer:
        output = list(answer["output"])
    else:
        output = []
        if "reasoning" in answer:
            summary = [{"type": "summary_text", "text": answer["reasoning"]}]
            output.append({"type": "reasoning", "id": "rs_fake", "summary": summary})
        if answer.get("text") is not None:
            part = {"type": "output_text", "text": answer["text"], "annotations": []}
            output.append(
                {
                    "type": "message",
                    "id": "msg_fake",
                    "role": "assistant",
                    "status": "completed",
                    "content": [part],
                }
            )
        for index, call in enumerate(answer.get("calls") or ([answer] if "tool" in answer else [])):
            output.append(
                {
                    "type": "function_call",
                    "id": f"fc_{index}",
                    "call_id": f"call_{index}",
                    "name": call["tool"],
                    "arguments": call.get("arguments_raw", json.dumps(call.get("args", {}))),
                    "status": "completed",
                }
            )
    input_tokens = len(json.dumps(body)) // 4
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "error": None,
        "model": model or body.get("model", "fake"),
        "output": output,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": 10,
            "total_tokens": input_tokens + 10,
        },
    }


def json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data.decode(errors="replace")


def error(
    status: int, message: str, headers: Mapping[str, str] | None = None, code: str | None = None
) -> tuple[int, Any, Mapping[str, str]]:
    return status, {"error": {"message": message, "type": "fake", "code": code}}, headers or {}
