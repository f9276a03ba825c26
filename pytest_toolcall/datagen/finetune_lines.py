"""One chat fine-tuning example per case, and the check every line passes before it is written.

A line is ``{"messages": [system, ...the case's messages, assistant with tool_calls],
"tools": [...], "parallel_tool_calls": false}``; a case expecting several calls gets one
assistant message with one `tool_calls` entry per call (and no `parallel_tool_calls` key,
so parallel calls stay allowed). Arguments are JSON strings. `line_problems` checks shape,
roles, tool names and arguments against the tool's schema.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_toolcall.collect.casefile import Case
from pytest_toolcall.datagen.concrete_calls import Unresolvable, as_tool_calls
from pytest_toolcall.judge.matching import ToolCall, judge
from pytest_toolcall.judge.steps import scripted_result

SCHEMA_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
SCHEMA_DATA_KEYS = frozenset({"enum", "const", "default", "examples", "required"})
FINE_TUNING_ROLES = frozenset({"system", "user", "assistant", "tool"})
LINE_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})


def strip_schema(schema: Any) -> Any:
    """A JSON Schema without `description` keywords at any depth; a *property* named
    `description` stays (only its own description goes), and enum/const/default data
    is left as it is."""
    if isinstance(schema, list):
        return [strip_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    stripped: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "description":
            continue
        if key in SCHEMA_NAME_MAPS and isinstance(value, Mapping):
            stripped[key] = {name: strip_schema(sub) for name, sub in value.items()}
        elif key in SCHEMA_DATA_KEYS:
            stripped[key] = copy.deepcopy(value)
        else:
            stripped[key] = strip_schema(value)
    return stripped


def strip_descriptions(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tools without descriptions: the function's and every one in its parameters."""
    stripped = []
    for tool in tools:
        function = {k: v for k, v in tool["function"].items() if k != "description"}
        if "parameters" in function:
            function["parameters"] = strip_schema(function["parameters"])
        stripped.append({**tool, "function": function})
    return stripped


# ---- lines ------------------------------------------------------------------------------


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A case message as the API wants it: tool-call arguments as JSON strings."""
    result = dict(message)
    if isinstance(result.get("tool_calls"), list):
        result["tool_calls"] = [
            _with_string_arguments(call) if isinstance(call, Mapping) else call
            for call in result["tool_calls"]
        ]
    return result


def _with_string_arguments(call: Mapping[str, Any]) -> dict[str, Any]:
    function = dict(call.get("function") or {})
    if "arguments" in function and not isinstance(function["arguments"], str):
        function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
    return {**call, "function": function}


def build_line(
    case: Case, calls: Sequence[tuple[str, Any]], *, strip: bool = False
) -> dict[str, Any]:
    """One fine-tuning example."""
    messages = [{"role": "system", "content": case.system}] if case.system is not None else []
    messages += [_message(message) for message in case.messages]
    tool_calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": c.name, "arguments": c.arguments},
        }
        for i, c in enumerate(as_tool_calls(calls))
    ]
    messages.append({"role": "assistant", "tool_calls": tool_calls})
    tools = strip_descriptions(case.tools) if strip else [dict(tool) for tool in case.tools]
    line: dict[str, Any] = {"messages": messages, "tools": tools}
    if len(calls) == 1:
        line["parallel_tool_calls"] = False
    return line


def build_agent_line(
    case: Case,
    turns: Sequence[Sequence[tuple[str, Any]]],
    final_text: str,
    *,
    strip: bool = False,
) -> dict[str, Any]:
    """One multi-turn example of an agent case: each turn's calls, the scripted result of
    every call, then the final answer's text."""
    line = build_line(case, turns[0], strip=strip) if turns else None
    if line is None:
        raise Unresolvable("agent steps without a call")
    messages = line["messages"][:-1]
    for number, calls in enumerate(turns, 1):
        tool_calls = as_tool_calls(calls)
        ids = [f"call_{number}_{index}" for index in range(1, len(tool_calls) + 1)]
        messages.append(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": i,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for i, c in zip(ids, tool_calls, strict=True)
                ],
            }
        )
        for call_id, call in zip(ids, tool_calls, strict=True):
            result = scripted_result(case.tool_results, call)
            if result is None:
                raise Unresolvable("agent steps without a scripted result")
            messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
    messages.append({"role": "assistant", "content": final_text})
    line["messages"] = messages
    line.pop("parallel_tool_calls", None)
    return line


def line_problems(line: Mapping[str, Any]) -> list[str]:
    """Why `line` is not a usable chat fine-tuning example with tool calls; [] when it is."""
    if set(line) - LINE_KEYS:
        return [f"unexpected keys {sorted(set(line) - LINE_KEYS)}"]
    messages, tools = line.get("messages"), line.get("tools")
    if not isinstance(tools, list) or not tools:
        return ["no tools"]
    try:
        parameters = {
            tool["function"]["name"]: tool["function"].get("parameters", {}) for tool in tools
        }
    except (KeyError, TypeError):
        return ["tools must be {type: function, function: {name, parameters}}"]
    if not isinstance(messages, list) or not messages:
        return ["no messages"]
    roles = [m.get("role") if isinstance(m, Mapping) else None for m in messages]
    problems = [
        f"messages[{index}]: role {role!r} is not one of {', '.join(sorted(FINE_TUNING_ROLES))}"
        for index, role in enumerate(roles)
        if role not in FINE_TUNING_ROLES
    ]
    if "user" not in roles:
        problems.append("no user message")
    last = messages[-1] if isinstance(messages[-1], Mapping) else {}
    calling = [
        m
        for m in messages
        if isinstance(m, Mapping) and m.get("role") == "assistant" and m.get("tool_calls")
    ]
    final_text = last.get("role") == "assistant" and isinstance(last.get("content"), str)
    if not calling or not (last in calling or final_text):
        return [
            *problems,
            "the last message is not an assistant message with tool_calls (or, after "
            "one, the final answer's text)",
        ]
    for message in calling:
        problems += _calls_problems(message["tool_calls"], parameters)
    return problems


def _calls_problems(calls: Any, parameters: Mapping[str, Any]) -> list[str]:
    """Why an assistant message's `tool_calls` are not valid calls of the tools."""
    if not isinstance(calls, list):
        return ["tool_calls is not a list"]
    problems: list[str] = []
    parsed = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if (
            not isinstance(function, Mapping)
            or call.get("type") != "function"
            or not isinstance(call.get("id"), str)
            or not isinstance(function.get("arguments"), str)
        ):
            problems.append(
                f"tool_calls[{index}]: needs id, type function, name and arguments as a JSON string"
            )
            continue
        parsed.append(ToolCall(str(function.get("name")), function["arguments"]))
    if not problems:
        expect = {"calls": [{"tool": call.name} for call in parsed]}
        verdict = judge(expect, parsed, parameters)
        if not verdict.passed:
            problems.append(f"{verdict.outcome}: {verdict.detail}")
    return problems
