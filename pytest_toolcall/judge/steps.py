"""Agent steps: one model turn judged against its step, and the scripted result of a call.

Pure functions. A step is any expectation (`tool`/`args`, `calls`, `any_of`, `no_call`);
a `no_call` step may also match the final text (`text:` with the string operators).
Where DESIGN is silent: final text that does not match is `wrong_args` (what was said is
wrong, not which tool); a model that calls on after the last step is `unexpected_call`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_toolcall.judge.matching import Outcome, ToolCall, Verdict, judge
from pytest_toolcall.judge.rendering import clip, format_diff
from pytest_toolcall.judge.values import JsonMap, mismatch

AFTER_LAST_STEP: JsonMap = {"no_call": True}  # what the turn after a last call step must be


def step_label(index: int, count: int) -> str:
    """`step 2 of 3`, or `after the last step (3)` for the turn past the last."""
    return f"step {index + 1} of {count}" if index < count else f"after the last step ({count})"


def judge_turn(
    step: JsonMap, calls: Sequence[ToolCall], text: str | None, tools: Mapping[str, JsonMap]
) -> Verdict:
    """The verdict on one turn: its calls against the step, then the text of a final answer."""
    verdict = judge({key: value for key, value in step.items() if key != "text"}, calls, tools)
    if not verdict.passed or "text" not in step:
        return verdict
    diff = mismatch(step["text"], text or "", "text", exact=False)
    if diff is None:
        return verdict
    return Verdict(Outcome.WRONG_ARGS, format_diff(diff))


def in_step(verdict: Verdict, index: int, count: int) -> Verdict:
    """The verdict with its step named: `step 2 of 3: args.mode expected ...`."""
    return Verdict(verdict.outcome, f"{step_label(index, count)}: {verdict.detail}")


def scripted_result(results: Mapping[str, Any], call: ToolCall) -> str | None:
    """What `call` returns, JSON-encoded unless a string; None when nothing is scripted.

    A tool's entry is a value, or a list of `{when: ARGS, result: X}` tried in order,
    `when` matching the call's arguments as `expect.args` does (absent `when`: any)."""
    if call.name not in results:
        return None
    script = results[call.name]
    if is_when_list(script):
        try:
            arguments = json.loads(call.arguments)
        except ValueError:
            return None
        for entry in script:
            when = entry.get("when", {})
            if isinstance(arguments, Mapping) and mismatch(when, arguments, "", False) is None:
                return _encoded(entry["result"])
        return None
    return _encoded(script)


def is_when_list(script: Any) -> bool:
    """Whether a tool's scripted result is the `[{when: ..., result: ...}]` form."""
    return (
        isinstance(script, list)
        and bool(script)
        and all(
            isinstance(e, Mapping) and "result" in e and set(e) <= {"when", "result"}
            for e in script
        )
    )


def _encoded(result: Any) -> str:
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)


def unscripted(call: ToolCall) -> Verdict:
    """The verdict when a passing call has no scripted result to send back."""
    return Verdict(
        Outcome.ERROR,
        f"no scripted result for {call.name} {clip(call.arguments)}: give tool_results a "
        "result without `when`, or one whose `when` matches",
    )
