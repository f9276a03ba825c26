"""Collection-time checks of agent cases: `expect.steps` and their `tool_results`.

Each problem keeps its key path from the case, so its line can be found: a step that could
never pass, a `no_call` step before the last, a
`text:` on a step that calls, a tool called in a step with no scripted result to send back,
a `when:` that can never match its tool's arguments, a result for a tool there is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_toolcall.collect.expectations import (
    ExpectationProblem,
    Path,
    dotted,
    located_expectation_problems,
)
from pytest_toolcall.judge.steps import is_when_list
from pytest_toolcall.judge.values import JsonMap, expected_calls


def _problem(path: Path, text: str) -> ExpectationProblem:
    return ExpectationProblem(path, f"{dotted(path)}: {text}")


def _step_tools(step: JsonMap) -> set[str]:
    forms = step.get("any_of") or [step]
    return {
        call["tool"]
        for form in forms
        if not form.get("no_call")
        for call in expected_calls(form)[0]
    }


def step_problems(
    expect: JsonMap, results: Mapping[str, Any] | None, tools: Mapping[str, JsonMap]
) -> list[ExpectationProblem]:
    """Why an agent case could never pass; [] when it is fine (or not an agent case)."""
    if "steps" not in expect:
        return []
    steps: Sequence[JsonMap] = expect["steps"]
    problems: list[ExpectationProblem] = []
    results = results or {}
    last = len(steps) - 1
    for index, step in enumerate(steps):
        at: Path = ("expect", "steps", index)
        problems += located_expectation_problems(step, tools, at)
        if step.get("no_call") and index < last:
            problems.append(_problem(at, "only the last step may be no_call (the final answer)"))
        if "text" in step and not step.get("no_call"):
            problems.append(_problem((*at, "text"), "only a no_call step has a final text"))
        # every call gets its result back: after the last step too, the model must stop
        for name in sorted(_step_tools(step) - set(results)):
            problems.append(
                _problem(at, f"{name} is called here but tool_results has no result to send back")
            )
    for name, script in results.items():
        where: Path = ("tool_results", name)
        if name not in tools:
            known = ", ".join(sorted(tools))
            problems.append(_problem(where, f"{name!r} is not one of the case's tools: {known}"))
        elif is_when_list(script):
            for index, entry in enumerate(script):
                call = {"tool": name, "args": entry.get("when") or {}}
                for found in located_expectation_problems(call, tools, (*where, index, "when")):
                    problems.append(
                        ExpectationProblem(
                            found.path, f"{found.text} (this `when` can never match)"
                        )
                    )
    return problems
