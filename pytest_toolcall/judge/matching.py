"""Expected vs actual tool calls -> one `Verdict`; pure functions.

A case gets the worst outcome that applies, in the order of `Outcome`:

1. no calls at all: pass for `no_call`, else ``no_call``;
2. a call naming a tool the suite does not have: ``unknown_tool``;
3. a call whose arguments are not a JSON object, name an argument the tool does not declare
   (BFCL: no unknown parameters, even without ``additionalProperties: false``) or fail the
   tool's parameter schema: ``invalid_args``. Integers are exact, as in BFCL: ``30.0`` is not
   an ``integer``, while an int is a ``number``;
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

import enum
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for

__all__ = ["Outcome", "ToolCall", "Verdict", "expectation_problems", "is_operator", "judge"]

MAX_VALUE_CHARS = 80
MAX_DETAIL_CHARS = 240
APPROX_REL_TOL = 1e-6
APPROX_ABS_TOL = 1e-9


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


@dataclass(frozen=True)
class Verdict:
    """The outcome of a case and one terminal-safe line saying what differed."""

    outcome: Outcome
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS


JsonMap = Mapping[str, Any]  # a JSON object: args, a schema, an expect form, an operator

_PASS = Verdict(Outcome.PASS)
_ABSENT: Any = object()  # the value of an argument the model did not send
_ABSENT_SPEC = {"$absent": True}
_NO_SCHEMA: Mapping[str, Any] = {}  # shared and never changed, for the id-keyed cache


class _Call(NamedTuple):
    name: str
    args: Mapping[str, Any]


class _Diff(NamedTuple):
    """The first place where an actual value does not match what was expected."""

    path: str
    expected: Any
    actual: Any


_OTHER_TOOL = _Diff("", None, None)  # what differs when a call names another tool


# ---- rendering ---------------------------------------------------------------------------


def _clip(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _printable(text: str) -> str:
    """`text` with control characters escaped, so a model can't drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _show(value: Any, depth: int = 0) -> str:
    """A short YAML-like rendering: 'text', 30, true, null, [1, 2], {mode: 'photo'}."""
    if isinstance(value, str):
        return _clip(repr(value[:MAX_VALUE_CHARS]))
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, Mapping | list) and depth > 2:
        return "..."
    if isinstance(value, Mapping):
        shown = (f"{key}: {_show(item, depth + 1)}" for key, item in list(value.items())[:40])
        return _clip("{" + ", ".join(shown) + "}")
    if isinstance(value, list):
        return _clip("[" + ", ".join(_show(item, depth + 1) for item in value[:40]) + "]")
    return _clip(repr(value))


def _describe(expected: Any) -> str:
    """What an expected value accepts, in words: "one of 'on', 'blink'"."""
    if not is_operator(expected):
        return _show(expected)
    words = []
    for key, operand in expected.items():
        shown = ", ".join(map(_describe, operand)) if key == "$one_of" else _show(operand)
        words.append(
            _OPERATORS[key].wording.format(shown) if key in _OPERATORS else f"{key} {shown}"
        )
    return " and ".join(words)


def _format_diff(diff: _Diff) -> str:
    if diff.actual is _ABSENT:
        return f"{diff.path}: missing (expected {_describe(diff.expected)})"
    return f"{diff.path}: expected {_describe(diff.expected)}, got {_show(diff.actual)}"


def _verdict(outcome: Outcome, detail: str) -> Verdict:
    return Verdict(outcome, _clip(_printable(detail), MAX_DETAIL_CHARS))


# ---- values ------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_operator(value: Any) -> bool:
    """A mapping whose keys all start with `$`."""
    return isinstance(value, Mapping) and bool(value) and all(str(k)[:1] == "$" for k in value)


def _scalar_equal(expected: Any, actual: Any) -> bool:
    """Equal value and JSON type, except that 100 equals 100.0; true never equals 1."""
    if _is_number(expected) and _is_number(actual):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


def _mismatch(expected: Any, actual: Any, path: str, exact: bool) -> _Diff | None:
    """Where `actual` (or `_ABSENT`) fails `expected`; None when it matches."""
    if is_operator(expected):
        return None if _operators_hold(expected, actual, exact) else _Diff(path, expected, actual)
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return _mapping_mismatch(expected, actual, path, exact)
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (item, actual_item) in enumerate(zip(expected, actual, strict=True)):
            if diff := _mismatch(item, actual_item, f"{path}[{index}]", exact):
                return diff
        return None
    if isinstance(expected, Mapping | list) or not _scalar_equal(expected, actual):
        return _Diff(path, expected, actual)
    return None


def _mapping_mismatch(expected: JsonMap, actual: JsonMap, path: str, exact: bool) -> _Diff | None:
    """Every expected key matches; with `exact`, no other keys either."""
    for key, expected_value in expected.items():
        if diff := _mismatch(expected_value, actual.get(key, _ABSENT), f"{path}.{key}", exact):
            return diff
    if exact:
        for key, actual_value in actual.items():
            if key not in expected:
                return _Diff(f"{path}.{key}", _ABSENT_SPEC, actual_value)
    return None


# ---- operators: one small function each, then the table ----------------------------------


def _one_of(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return any(_mismatch(option, actual, "", exact) is None for option in spec["$one_of"])


def _regex(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return isinstance(actual, str) and re.fullmatch(spec["$regex"], actual) is not None


def _contains(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return isinstance(actual, str) and spec["$contains"] in actual


def _icase(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return isinstance(actual, str) and actual.casefold() == spec["$icase"].casefold()


def _approx(spec: JsonMap, actual: Any, exact: bool) -> bool:
    if not _is_number(actual):
        return False
    if "$tol" in spec:  # the bound counts despite float noise: 3.4 is within 0.1 of 3.5
        return abs(actual - spec["$approx"]) <= spec["$tol"] * (1 + APPROX_REL_TOL)
    return math.isclose(actual, spec["$approx"], rel_tol=APPROX_REL_TOL, abs_tol=APPROX_ABS_TOL)


def _tol(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return True  # a modifier, read by _approx


def _between(spec: JsonMap, actual: Any, exact: bool) -> bool:
    low, high = spec["$between"]
    return _is_number(actual) and low <= actual <= high


def _any(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return actual is not _ABSENT


def _absent(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return actual is _ABSENT


def _unordered(spec: JsonMap, actual: Any, exact: bool) -> bool:
    expected = spec["$unordered"]
    if not isinstance(actual, list) or len(actual) != len(expected):
        return False
    fits = [[int(_mismatch(e, a, "", exact) is None) for a in actual] for e in expected]
    return sum(fits[row][col] for row, col in _best_pairs(fits)) == len(expected)


class _Operator(NamedTuple):
    holds: Callable[[JsonMap, Any, bool], bool]  # (whole spec, actual value, exact)
    wording: str  # how it reads in a detail; {} is the operand
    operand: Mapping[str, Any]  # JSON Schema of what it takes, for expectation_problems


_NUMBER = {"type": "number"}
_NUMBER_PAIR = {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2}
_OPERATORS = {
    "$absent": _Operator(_absent, "absent", {"const": True}),
    "$any": _Operator(_any, "any value", {"const": True}),
    "$approx": _Operator(_approx, "about {}", _NUMBER),
    "$between": _Operator(_between, "between {}", _NUMBER_PAIR),
    "$contains": _Operator(_contains, "text containing {}", {"type": "string"}),
    "$icase": _Operator(_icase, "{} in any case", {"type": "string"}),
    "$one_of": _Operator(_one_of, "one of {}", {"type": "array", "minItems": 1}),
    "$regex": _Operator(_regex, "a match of {}", {"type": "string", "format": "regex"}),
    "$tol": _Operator(_tol, "within {}", {**_NUMBER, "minimum": 0}),
    "$unordered": _Operator(_unordered, "{} in any order", {"type": "array"}),
}
_OPERAND_CHECKERS = {
    key: Draft202012Validator(operator.operand, format_checker=FormatChecker())
    for key, operator in _OPERATORS.items()
}


def _operators_hold(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return all(key in _OPERATORS and _OPERATORS[key].holds(spec, actual, exact) for key in spec)


def _best_pairs(weights: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """(row, column) pairs, each row and column at most once, with the largest total weight.

    Hungarian algorithm, O(rows² · columns); every row of the shorter side gets a partner.
    """
    rows, cols = len(weights), len(weights[0]) if weights else 0
    if not rows or not cols:
        return []
    if rows > cols:
        return [(row, col) for col, row in _best_pairs(list(zip(*weights, strict=True)))]
    # Minimise -weight with potentials u (rows) and v (columns); indexes 1-based, 0 = none.
    u, v = [0.0] * (rows + 1), [0.0] * (cols + 1)
    row_of, way = [0] * (cols + 1), [0] * (cols + 1)
    for row in range(1, rows + 1):
        row_of[0], col = row, 0
        slack, used = [math.inf] * (cols + 1), [False] * (cols + 1)
        while row_of[col]:
            used[col], current, delta, next_col = True, row_of[col], math.inf, 0
            for j in range(1, cols + 1):
                if not used[j]:
                    reduced = -weights[current - 1][j - 1] - u[current] - v[j]
                    if reduced < slack[j]:
                        slack[j], way[j] = reduced, col
                    if slack[j] < delta:
                        delta, next_col = slack[j], j
            for j in range(cols + 1):
                if used[j]:
                    u[row_of[j]] += delta
                    v[j] -= delta
                else:
                    slack[j] -= delta
            col = next_col
        while col:
            row_of[col] = row_of[way[col]]
            col = way[col]
    return [(row_of[j] - 1, j - 1) for j in range(1, cols + 1) if row_of[j]]


# ---- judging -----------------------------------------------------------------------------


def _is_strict_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


@cache
def _strict_validator_class(base: type[Validator]) -> type[Validator]:
    """`base` with BFCL's exact integers: 30.0 is not an integer."""
    return extend(base, type_checker=base.TYPE_CHECKER.redefine("integer", _is_strict_integer))


def _declared_names(schema: JsonMap, top_level: bool) -> frozenset[str] | None:
    """The keys an object may have, or None when it may have any.

    Top level (BFCL): undeclared arguments are refused unless the schema says extras are
    fine; nested objects follow JSON Schema (extras fine unless additionalProperties false).
    """
    extras = schema.get("additionalProperties", not top_level)
    if extras is not False or "patternProperties" in schema:
        return None
    return frozenset(schema.get("properties") or {})


# Keyed by id(): judge runs thousands of times on the same few schema objects, and building
# a validator costs far more than a check. The validator holds its schema: ids stay unique.
_checkers: dict[int, tuple[Validator, frozenset[str] | None]] = {}


def _checker(parameters: JsonMap) -> tuple[Validator, frozenset[str] | None]:
    """The tool's validator and its argument names (None: any name goes), made once."""
    entry = _checkers.get(id(parameters))
    if entry is None or entry[0].schema is not parameters:
        base = validator_for(parameters, default=Draft202012Validator)
        entry = (_strict_validator_class(base)(parameters), _declared_names(parameters, True))
        _checkers[id(parameters)] = entry
    return entry


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parsed_arguments(call: ToolCall, parameters: JsonMap) -> JsonMap | str:
    """The call's arguments as an object, or why they are invalid for the tool."""
    try:
        args = json.loads(call.arguments, parse_constant=_reject_constant)
    except (ValueError, TypeError, RecursionError):
        return f"arguments are not JSON: {_show(call.arguments)}"
    if not isinstance(args, dict):
        return f"arguments are not a JSON object: {_show(args)}"
    validator, names = _checker(parameters)
    for key in args:
        if names is not None and key not in names:
            known = ", ".join(sorted(names)) or "none"
            return f"args.{key}: no such argument (it has: {known})"
    if validator.is_valid(args):  # the common case; finding the best error is slower
        return args
    error = best_match(validator.iter_errors(args))
    path = "args" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
    return f"{path}: {_clip(error.message, 120)}"


def _expected_calls(form: JsonMap) -> tuple[Sequence[JsonMap], bool]:
    """The expected calls of a form and whether they came as a `calls` list."""
    return (form["calls"], True) if "calls" in form else ([form], False)


def _call_diff(want: JsonMap, got: _Call, root: str) -> _Diff | None:
    """How `got` differs from the expected call `want`: _OTHER_TOOL, a _Diff, or None."""
    if got.name != want["tool"]:
        return _OTHER_TOOL
    return _mapping_mismatch(want.get("args") or {}, got.args, root, bool(want.get("exact")))


def _compare_calls(expected: Sequence[JsonMap], actual: Sequence[_Call], listed: bool) -> Verdict:
    diffs = [
        [_call_diff(want, got, f"calls[{index}].args" if listed else "args") for got in actual]
        for index, want in enumerate(expected)
    ]
    passing = len(expected) + 1  # one more passing pair outweighs any number of same names
    weights = [[passing if d is None else int(d is not _OTHER_TOOL) for d in row] for row in diffs]
    partner = dict(_best_pairs(weights))
    findings = []
    for index, want in enumerate(expected):
        where, col = f"calls[{index}]: " if listed else "", partner.get(index)
        if col is None:
            findings.append((Outcome.MISSING_CALL, f"{where}missing call {want['tool']}"))
        elif diffs[index][col] is _OTHER_TOOL:
            got = actual[col].name
            findings.append((Outcome.WRONG_TOOL, f"{where}expected {want['tool']}, got {got}"))
        elif diffs[index][col] is not None:
            findings.append((Outcome.WRONG_ARGS, _format_diff(diffs[index][col])))
    paired = set(partner.values())
    findings += [
        (Outcome.EXTRA_CALL, f"extra call {call.name} {_show(call.args)}")
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
        shown = "; ".join(f"{call.name} {_show(call.args)}" for call in actual)
        return _verdict(Outcome.UNEXPECTED_CALL, f"expected no call, got {shown}")
    expected, listed = _expected_calls(form)
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
            return _verdict(Outcome.UNKNOWN_TOOL, f"{_show(call.name)} is not one of the tools")
    actual = []
    for call in calls:
        args = _parsed_arguments(call, _as_schema(tools[call.name]))
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


# ---- static checks of an expectation -----------------------------------------------------


def _as_schema(schema: Any) -> JsonMap:
    return schema if isinstance(schema, Mapping) else _NO_SCHEMA


def _type_problems(value: Any, at: Validator, path: str) -> list[str]:
    declared = at.schema.get("type") or []
    declared = [declared] if isinstance(declared, str) else declared
    if not declared or any(at.is_type(value, kind) for kind in declared):
        return []
    return [f"{path}: {_show(value)} is not of type {' or '.join(map(repr, declared))}"]


def _literal_problems(value: Any, at: Validator, path: str) -> list[str]:
    error = best_match(at.iter_errors(value))
    if error is None:
        return []
    if error.validator == "enum":
        listed = ", ".join(o if isinstance(o, str) else _show(o) for o in error.validator_value)
        return [f"{path}: {_show(value)} is not one of {listed}"]
    return [f"{path}: {_clip(error.message, 120)}"]


def _object_problems(
    expected: JsonMap, at: Validator, path: str, owner: str, top_level: bool
) -> list[str]:
    if not top_level and (problems := _type_problems(expected, at, path)):
        return problems
    names = _declared_names(at.schema, top_level)
    properties = _as_schema(at.schema.get("properties"))
    required = at.schema.get("required") or ()
    problems = []
    for key, value in expected.items():
        where = f"{path}.{key}"
        if names is not None and key not in names:
            noun, known = "argument" if top_level else "key", ", ".join(sorted(names)) or "none"
            problems.append(f"{where}: {owner} has no {noun} {key!r} (it has: {known})")
        elif value == _ABSENT_SPEC and key in required:
            problems.append(f"{where}: $absent can never match, {owner} requires {key!r}")
        else:
            sub = at.evolve(schema=_as_schema(properties.get(key)))
            problems += _value_problems(value, sub, where, f"{owner}.{key}")
    return problems


def _list_problems(expected: list[Any], at: Validator, path: str, owner: str) -> list[str]:
    items = at.evolve(schema=_as_schema(at.schema.get("items")))
    return _type_problems(expected, at, path) or [
        problem
        for index, item in enumerate(expected)
        for problem in _value_problems(item, items, f"{path}[{index}]", owner)
    ]


def _operator_problems(spec: JsonMap, at: Validator, path: str, owner: str) -> list[str]:
    problems = []
    for key, operand in spec.items():
        if key not in _OPERATORS:
            problems.append(f"{path}: unknown operator {key!r} (known: {', '.join(_OPERATORS)})")
        elif error := best_match(_OPERAND_CHECKERS[key].iter_errors(operand)):
            problems.append(f"{path}: {key}: {_clip(error.message)}")
        elif key == "$tol" and "$approx" not in spec:
            problems.append(f"{path}: $tol only goes with $approx")
        elif key == "$one_of":
            problems += [p for option in operand for p in _value_problems(option, at, path, owner)]
        elif key == "$unordered":
            problems += _list_problems(operand, at, path, owner)
    return problems


def _value_problems(value: Any, at: Validator, path: str, owner: str) -> list[str]:
    """Why `value` can never match; `at` validates against the parameter's (sub)schema."""
    if is_operator(value):
        return _operator_problems(value, at, path, owner)
    if isinstance(value, Mapping):
        if operators := [str(key) for key in value if str(key)[:1] == "$"]:
            return [f"{path}: mixes operators ({', '.join(operators)}) with plain keys"]
        return _object_problems(value, at, path, owner, top_level=False)
    if isinstance(value, list):
        return _list_problems(value, at, path, owner)
    return _literal_problems(value, at, path)


def _call_problems(call: JsonMap, tools: Mapping[str, JsonMap], path: str) -> list[str]:
    name = call["tool"]
    if name not in tools:
        return [f"{path}.tool {name!r} is not one of the suite's tools: {', '.join(sorted(tools))}"]
    tool_checker, _ = _checker(_as_schema(tools[name]))
    return _object_problems(call.get("args") or {}, tool_checker, f"{path}.args", name, True)


def _form_problems(form: JsonMap, tools: Mapping[str, JsonMap], path: str) -> list[str]:
    if form.get("no_call"):
        return []
    expected, listed = _expected_calls(form)
    return [
        problem
        for index, call in enumerate(expected)
        for problem in _call_problems(call, tools, f"{path}.calls[{index}]" if listed else path)
    ]


def expectation_problems(expect: JsonMap, tools: Mapping[str, JsonMap]) -> list[str]:
    """Why an expectation could never pass against these tools; [] when it is fine.

    Checked before any request: tool names, argument names, literals against the parameter
    schema (inside operators, nested objects and list items too) and operator syntax.
    """
    if "any_of" not in expect:
        return _form_problems(expect, tools, "expect")
    return [
        problem
        for index, form in enumerate(expect["any_of"])
        for problem in _form_problems(form, tools, f"expect.any_of[{index}]")
    ]
