"""Checks of a case's `messages:` beyond the schema: what each role needs, and tool calls.

The schema already holds roles, keys and types. Here: user/system/developer messages have
content; an assistant message has content or tool calls; each tool call names one of the
case's tools with arguments that are a JSON object; a tool message answers an earlier call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pytest_toolcall.collect.expectations import dotted
from pytest_toolcall.judge.rendering import show

Path = tuple[str | int, ...]
CONTENT_ROLES = ("system", "developer", "user", "tool")


def message_problems(
    messages: Sequence[Mapping[str, Any]], tool_names: Sequence[str] | None
) -> Iterator[tuple[Path, str]]:
    """(key path from the case, problem) for each thing wrong; `tool_names` None: unknown."""
    call_ids: list[str] = []
    for index, message in enumerate(messages):
        path: Path = ("messages", index)
        role = message["role"]
        if role in CONTENT_ROLES and message.get("content") is None:
            yield path, f"{dotted(path)}: a {role} message needs 'content'"
        if role == "assistant":
            if message.get("content") is None and not message.get("tool_calls"):
                yield path, f"{dotted(path)}: an assistant message needs 'content' or 'tool_calls'"
            for number, call in enumerate(message.get("tool_calls") or ()):
                yield from _call_problems(call, (*path, "tool_calls", number), tool_names)
                call_ids.append(call["id"])
        elif message.get("tool_calls"):
            yield path, f"{dotted(path)}: only assistant messages have 'tool_calls'"
        if role == "tool":
            yield from _answer_problems(message, path, call_ids)
        elif "tool_call_id" in message:
            yield path, f"{dotted(path)}: only tool messages have 'tool_call_id'"


def _call_problems(
    call: Mapping[str, Any], path: Path, tool_names: Sequence[str] | None
) -> Iterator[tuple[Path, str]]:
    function = call["function"]
    if tool_names is not None and function["name"] not in tool_names:
        where = (*path, "function", "name")
        known = ", ".join(sorted(tool_names)) or "none"
        yield (
            where,
            f"{dotted(where)}: {function['name']!r} is not one of the case's tools: {known}",
        )
    where = (*path, "function", "arguments")
    try:
        arguments = json.loads(function["arguments"])
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        yield where, f"{dotted(where)}: not a JSON object: {show(function['arguments'])}"


def _answer_problems(
    message: Mapping[str, Any], path: Path, call_ids: Sequence[str]
) -> Iterator[tuple[Path, str]]:
    earlier = ", ".join(call_ids) or "none"
    if "tool_call_id" not in message:
        yield (
            path,
            (
                f"{dotted(path)}: a tool message needs 'tool_call_id' "
                f"(the id of the call it answers: {earlier})"
            ),
        )
    elif message["tool_call_id"] not in call_ids:
        where = (*path, "tool_call_id")
        yield (
            where,
            (
                f"{dotted(where)}: {message['tool_call_id']!r} is not the id of an earlier "
                f"tool call (earlier ids: {earlier})"
            ),
        )
