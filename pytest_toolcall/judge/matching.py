"""Expected vs actual tool calls -> one `Verdict`; pure functions.

A case gets the worst outcome that applies, in the order of `Outcome`:

1. no calls at all: pass for `no_call`, else ``no_call``;
2. a call naming a tool the suite does not have: ``unknown_tool``;
3. a call whose arguments are not a JSON object, name an argument the tool does not declare
   (BFCL: no unknown parameters, even without ``additionalProperties: false``; names
   declared through ``$ref``/``allOf``/``anyOf``/``oneOf`` count) or fail the tool's
   parameter schema: ``invalid_args``. Integers are exact, as in BFCL: ``30.0`` is not an
   ``integer``, while an int is a ``number``;
4. `no_call` expected but the calls are valid: ``unexpected_call``;
5. expected and actual calls are paired order-free (Hungarian algorithm: most passing pairs,
   then most same-name pairs). An expected call paired with another tool is ``wrong_tool``,
   with its own tool but other args ``wrong_args``, with nothing ``missing_call``; an actual
   call left over is ``extra_call``. The worst finding wins, the first of those names it;
6. `any_of`: pass when an alternative passes, else the verdict of the least bad alternative
   (latest in `Outcome` order; the first of equals). ``error`` is never judged here: it is
   for answers that never came, decided by the caller.

Where DESIGN is silent:

- ``exact: true`` holds at every depth of ``args``: nested objects get no extra keys either
  (as BFCL's dict check); without it nested objects match as subsets.
- ``$approx`` with ``$tol`` allows an absolute difference of ``$tol``, bound included;
  without ``$tol`` only float noise (relative 1e-6, absolute 1e-9).
- ``$regex`` must match the whole string (``re.fullmatch``): ``^home`` matches only "home".
- Several operators in one mapping must all hold: ``{$regex: "a.*", $contains: b}``.
- Strings compare exactly (no BFCL normalisation); ``$icase`` compares casefolded.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pytest_toolcall.judge.pairing import best_pairs
from pytest_toolcall.judge.rendering import clip, detail, format_diff, show
from pytest_toolcall.judge.schemas import as_schema, tool_checker
from pytest_toolcall.judge.values import (
    Diff,
    JsonMap,
    expected_calls,
    is_operator,
    mapping_mismatch,
)

__all__ = ["Outcome", "ToolCall", "Verdict", "is_operator", "judge"]


class Outcome(str, enum.Enum):
    """What happened in one case, worst first; the value is what users see."""

    ERROR = "error"
    NO_CALL = "no_call"
    UNKNOWN_TOOL = "unknown_tool"
    INVALID_ARGS = "invalid_args"
    WRONG_TOOL = "wrong_tool"
    WRONG_ARGS = "wrong_args"
    EXTRA_CALL = "extra_call"
    MISSING_CALL = "missing_call"
    UNEXPECTED_CALL = "unexpected_call"
    PASS = "pass"

    def __str__(self) -> str:
        return self.value


_SEVERITY = {outcome: rank for rank, outcome in enumerate(Outcome)}


@dataclass(frozen=True)
class ToolCall:
    """One call as the model returned it."""

    name: str
    arguments: str  # the raw JSON string
    id: str = field(default="", compare=False)  # the model's call id (results answer it)


@dataclass(frozen=True)
class Verdict:
    """The outcome of a case and one terminal-safe line saying what differed."""

    outcome: Outcome
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS


_PASS = Verdict(Outcome.PASS)
_OTHER_TOOL = Diff("", None, None)  # what differs when a call names another tool


class _Call(NamedTuple):
    name: str
    args: Mapping[str, Any]


def _verdict(outcome: Outcome, text: str) -> Verdict:
    return Verdict(outcome, detail(text))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parsed_arguments(call: ToolCall, parameters: JsonMap) -> JsonMap | str:
    """The call's arguments as an object, or why they are invalid for the tool."""
    try:
        args = json.loads(call.arguments, parse_constant=_reject_constant)
    except (ValueError, TypeError, RecursionError):
        return f"arguments are not JSON: {show(call.arguments)}"
    if not isinstance(args, dict):
        return f"arguments are not a JSON object: {show(args)}"
    checker = tool_checker(parameters)
    names = checker.names
    for key in args:
        if names is not None and key not in names:
            known = ", ".join(sorted(names)) or "none"
            return f"args.{key}: no such argument (it has: {known})"
    if checker.accepts(args):  # the common case; finding the best error is slower
        return args
    from jsonschema.exceptions import best_match

    error = best_match(checker.validator.iter_errors(args))
    where = error.absolute_path
    path = "args" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where)
    return f"{path}: {clip(error.message, 120)}"


def _call_diff(want: JsonMap, got: _Call, root: str) -> Diff | None:
    """How `got` differs from the expected call `want`: _OTHER_TOOL, a Diff, or None."""
    if got.name != want["tool"]:
        return _OTHER_TOOL
    return mapping_mismatch(want.get("args") or {}, got.args, root, bool(want.get("exact")))


def _compare_calls(expected: Sequence[JsonMap], actual: Sequence[_Call], listed: bool) -> Verdict:
    single = len(expected) == len(actual) == 1 and not listed  # the usual case: no pairing
    if single and _call_diff(expected[0], actual[0], "args") is None:
        return _PASS
    diffs = [
        [_call_diff(want, got, f"calls[{index}].args" if listed else "args") for got in actual]
        for index, want in enumerate(expected)
    ]
    passing = len(expected) + 1  # one more passing pair outweighs any number of same names
    weights = [[passing if d is None else int(d is not _OTHER_TOOL) for d in row] for row in diffs]
    partner = dict(best_pairs(weights))
    findings = []
    for index, want in enumerate(expected):
        where, col = f"calls[{index}]: " if listed else "", partner.get(index)
        if col is None:
            findings.append((Outcome.MISSING_CALL, f"{where}missing call {want['tool']}"))
        elif diffs[index][col] is _OTHER_TOOL:
            got = actual[col].name
            findings.append((Outcome.WRONG_TOOL, f"{where}expected {want['tool']}, got {got}"))
        elif (diff := diffs[index][col]) is not None:
            findings.append((Outcome.WRONG_ARGS, format_diff(diff)))
    paired = set(partner.values())
    findings += [
        (Outcome.EXTRA_CALL, f"extra call {call.name} {show(call.args)}")
        for col, call in enumerate(actual)
        if col not in paired
    ]
    if not findings:
        return _PASS
    return _verdict(*min(findings, key=lambda finding: _SEVERITY[finding[0]]))


def _judge_form(form: JsonMap, actual: Sequence[_Call]) -> Verdict:
    """One of the three forms (tool / calls / no_call) against valid calls."""
    if form.get("no_call"):
        if not actual:
            return _PASS
        shown = "; ".join(f"{call.name} {show(call.args)}" for call in actual)
        return _verdict(Outcome.UNEXPECTED_CALL, f"expected no call, got {shown}")
    expected, listed = expected_calls(form)
    if not actual:
        names = ", ".join(want["tool"] for want in expected)
        return _verdict(Outcome.NO_CALL, f"expected {names}, got no call")
    return _compare_calls(expected, actual, listed)


def judge(expect: JsonMap, calls: Sequence[ToolCall], tools: Mapping[str, JsonMap]) -> Verdict:
    """The verdict on what the model returned. Never raises for any model output.

    `tools` maps tool name -> its JSON Schema `parameters`; empty `calls` = no call.
    """
    for call in calls:
        if call.name not in tools:
            return _verdict(Outcome.UNKNOWN_TOOL, f"{show(call.name)} is not one of the tools")
    actual = []
    for call in calls:
        args = _parsed_arguments(call, as_schema(tools[call.name]))
        if isinstance(args, str):
            return _verdict(Outcome.INVALID_ARGS, f"{call.name} {args}")
        actual.append(_Call(call.name, args))
    if "any_of" not in expect:
        return _judge_form(expect, actual)
    verdicts = [_judge_form(form, actual) for form in expect["any_of"]]
    closest = max(verdicts, key=lambda verdict: _SEVERITY[verdict.outcome])
    if closest.passed:
        return closest
    return _verdict(closest.outcome, f"no alternative matched; closest: {closest.detail}")
