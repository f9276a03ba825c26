"""Expectations -> one concrete answer: the calls a fine-tuning line shows the assistant making.

A literal is itself, `$one_of` its first option that resolves (`$absent` only when no
option has a value), `$approx` its value, `$between` its lower bound (rounded up for an
integer parameter), `$icase` its text (as the `enum` spells it, if there is one),
`$unordered` its list, `$absent` leaves the argument out; `any_of` takes its first
alternative that resolves. What has no single concrete answer raises `Unresolvable`:
`$regex`, `$contains` and `$any` values, `no_call` cases (there is no assistant text to
train on) and expectations that leave out a required argument (the answer would not be a
valid call). The answer must pass the case's own expectation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_toolcall.collect.casefile import Case
from pytest_toolcall.judge.matching import ToolCall, is_operator, judge

_ABSENT: Any = object()  # an argument the answer leaves out


class Unresolvable(Exception):
    """An expectation with no single concrete answer; the message is the reason counted."""


def _property_schema(schema: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    properties = schema.get("properties")
    sub = properties.get(key) if isinstance(properties, Mapping) else None
    return sub if isinstance(sub, Mapping) else {}


def _items_schema(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    items = schema.get("items")
    return items if isinstance(items, Mapping) else {}


def _wants_integer(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "integer" or (isinstance(kind, list) and "integer" in kind)


def _number(value: float, schema: Mapping[str, Any]) -> Any:
    if _wants_integer(schema) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def resolve_value(spec: Any, schema: Mapping[str, Any]) -> Any:
    """One concrete value that `spec` accepts (`_ABSENT`: leave it out), or `Unresolvable`."""
    if is_operator(spec):
        return _resolve_operator(spec, schema)
    if isinstance(spec, Mapping):
        resolved = {
            key: resolve_value(value, _property_schema(schema, key)) for key, value in spec.items()
        }
        return {key: value for key, value in resolved.items() if value is not _ABSENT}
    if isinstance(spec, list):
        return [_present(resolve_value(item, _items_schema(schema))) for item in spec]
    return spec


def _present(value: Any) -> Any:
    if value is _ABSENT:
        raise Unresolvable("$absent inside a list")
    return value


def _resolve_operator(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
    if "$one_of" in spec:
        first_problem: Unresolvable | None = None
        absent = False
        for option in spec["$one_of"]:
            try:
                value = resolve_value(option, schema)
            except Unresolvable as problem:
                first_problem = first_problem or problem
                continue
            if value is _ABSENT:
                absent = True
                continue
            return value
        if absent:
            return _ABSENT
        raise first_problem or Unresolvable("$one_of")
    if "$approx" in spec:
        return _number(spec["$approx"], schema)
    if "$between" in spec:
        low, high = spec["$between"]
        value = math.ceil(low) if _wants_integer(schema) else low
        if value > high:
            raise Unresolvable("$between without an integer")
        return value
    if "$icase" in spec:
        wanted = spec["$icase"].casefold()
        listed = [
            v for v in schema.get("enum") or () if isinstance(v, str) and v.casefold() == wanted
        ]
        return listed[0] if listed else spec["$icase"]
    if "$unordered" in spec:
        return [_present(resolve_value(item, _items_schema(schema))) for item in spec["$unordered"]]
    if "$absent" in spec:
        return _ABSENT
    raise Unresolvable(sorted(spec)[0])


def _resolve_form(form: Mapping[str, Any], tools: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if form.get("no_call"):
        raise Unresolvable("no_call")
    calls = form.get("calls", [form])
    return [
        (call["tool"], resolve_value(call.get("args") or {}, tools.get(call["tool"]) or {}))
        for call in calls
    ]


def resolve_calls(case: Case) -> list[tuple[str, dict[str, Any]]]:
    """The concrete (tool, args) calls answering `case`, checked against its expectation."""
    return _resolve_expectation(case.expect, case.tool_parameters)


def resolve_agent_turns(case: Case) -> tuple[list[list[tuple[str, dict[str, Any]]]], str]:
    """An agent case's concrete calls, turn by turn, and its final text: the last step
    must be `no_call` with a literal `text` (else there is no answer to train on)."""
    *turns, last = case.expect["steps"]
    text = last.get("text")
    if not last.get("no_call") or not isinstance(text, str):
        raise Unresolvable("agent steps without a literal final text")
    return [_resolve_expectation(step, case.tool_parameters) for step in turns], text


def _resolve_expectation(
    expect: Mapping[str, Any], tool_parameters: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    forms = expect.get("any_of", [expect])
    first_problem: Unresolvable | None = None
    for form in forms:
        try:
            calls = _resolve_form(form, tool_parameters)
        except Unresolvable as problem:
            first_problem = first_problem or problem
            continue
        verdict = judge(form, as_tool_calls(calls), tool_parameters)
        if verdict.passed:
            return calls
        first_problem = first_problem or Unresolvable(f"no valid call ({verdict.outcome})")
    raise first_problem or Unresolvable("no alternative")


def as_tool_calls(calls: Iterable[tuple[str, Any]]) -> list[ToolCall]:
    return [ToolCall(name, json.dumps(args, ensure_ascii=False)) for name, args in calls]
