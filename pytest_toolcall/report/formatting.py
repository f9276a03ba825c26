"""One-line renderings of what a case expects and what the model answered."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def format_call(name: str, arguments: str) -> str:
    """`land_drone {"location": "home_base"}`, compact and single-line."""
    try:
        args = _compact(json.loads(arguments))
    except ValueError:
        args = arguments
    return _call_line(name, args)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _call_line(name: str, args: str) -> str:
    return name if args in ("{}", "") else f"{name} {args}"


def format_expected(expect: Mapping[str, Any]) -> str:
    """One line for what a case expects (an agent case: its steps, in order)."""
    if "steps" in expect:
        return " → ".join(
            f"[{n}] {format_expected(step)}" for n, step in enumerate(expect["steps"], 1)
        )
    if expect.get("no_call"):
        return "no call"
    if "any_of" in expect:
        return " | ".join(format_expected(option) for option in expect["any_of"])
    return " + ".join(
        _call_line(call["tool"], _compact(call.get("args", {}))) for call in expected_calls(expect)
    )


def format_actual(record: Mapping[str, Any]) -> str:
    """One line for what the model answered (an agent case: every turn, with its outcome)."""
    if record.get("steps"):
        return " → ".join(
            f"[{n}] {format_actual({**step, 'steps': None})} ({step['outcome']})"
            for n, step in enumerate(record["steps"], 1)
        )
    if record["outcome"] == "error":
        return "no answer"
    if record["actual"]:
        return " + ".join(format_call(c["name"], c["arguments"]) for c in record["actual"])
    text = (record.get("text") or "").strip().replace("\n", " ")
    return f"text {text[:60]!r}" if text else "nothing"


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def expected_calls(option: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The expected calls of one expectation form (none for `no_call`)."""
    if option.get("no_call"):
        return []
    return option.get("calls") or [option]
