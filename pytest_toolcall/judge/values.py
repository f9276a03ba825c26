"""Expected vs actual argument values: literals, nested containers and the `$` operators.

The operator table `OPERATORS` is shared with the collection-time checks
(`pytest_toolcall.collect.expectations`), which validate operands against its schemas.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from pytest_toolcall.judge.pairing import best_pairs

JsonMap = Mapping[str, Any]  # a JSON object: args, a schema, an expect form, an operator

APPROX_REL_TOL = 1e-6
APPROX_ABS_TOL = 1e-9
ABSENT: Any = object()  # the value of an argument the model did not send
ABSENT_SPEC: JsonMap = {"$absent": True}


class Diff(NamedTuple):
    """The first place where an actual value does not match what was expected."""

    path: str
    expected: Any
    actual: Any


def is_number(value: Any) -> bool:
    """An int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_operator(value: Any) -> bool:
    """A mapping whose keys all start with `$`."""
    return isinstance(value, Mapping) and bool(value) and all(str(k)[:1] == "$" for k in value)


def expected_calls(form: JsonMap) -> tuple[Sequence[JsonMap], bool]:
    """The expected calls of an expect form and whether they came as a `calls` list."""
    return (form["calls"], True) if "calls" in form else ([form], False)


def scalar_equal(expected: Any, actual: Any) -> bool:
    """Equal value and JSON type, except that 100 equals 100.0; true never equals 1."""
    if is_number(expected) and is_number(actual):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


def mismatch(expected: Any, actual: Any, path: str, exact: bool) -> Diff | None:
    """Where `actual` (or `ABSENT`) fails `expected`; None when it matches."""
    if is_operator(expected):
        return None if operators_hold(expected, actual, exact) else Diff(path, expected, actual)
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return mapping_mismatch(expected, actual, path, exact)
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (item, actual_item) in enumerate(zip(expected, actual, strict=True)):
            if diff := mismatch(item, actual_item, f"{path}[{index}]", exact):
                return diff
        return None
    if isinstance(expected, Mapping | list) or not scalar_equal(expected, actual):
        return Diff(path, expected, actual)
    return None


def mapping_mismatch(expected: JsonMap, actual: JsonMap, path: str, exact: bool) -> Diff | None:
    """Every expected key matches; with `exact`, no other keys either."""
    for key, expected_value in expected.items():
        if diff := mismatch(expected_value, actual.get(key, ABSENT), f"{path}.{key}", exact):
            return diff
    if exact:
        for key, actual_value in actual.items():
            if key not in expected:
                return Diff(f"{path}.{key}", ABSENT_SPEC, actual_value)
    return None


# ---- operators: one small function each, then the table ----------------------------------


def _one_of(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return any(mismatch(option, actual, "", exact) is None for option in spec["$one_of"])


def _regex(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return isinstance(actual, str) and re.fullmatch(spec["$regex"], actual) is not None


def _contains(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return isinstance(actual, str) and spec["$contains"] in actual


def _icase(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return isinstance(actual, str) and actual.casefold() == spec["$icase"].casefold()


def _approx(spec: JsonMap, actual: Any, exact: bool) -> bool:
    if not is_number(actual):
        return False
    if "$tol" in spec:  # the bound counts despite float noise: 3.4 is within 0.1 of 3.5
        return abs(actual - spec["$approx"]) <= spec["$tol"] * (1 + APPROX_REL_TOL)
    return math.isclose(actual, spec["$approx"], rel_tol=APPROX_REL_TOL, abs_tol=APPROX_ABS_TOL)


def _tol(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return True  # a modifier, read by _approx


def _between(spec: JsonMap, actual: Any, exact: bool) -> bool:
    low, high = spec["$between"]
    return is_number(actual) and low <= actual <= high


def _any(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return actual is not ABSENT


def _absent(spec: JsonMap, actual: Any, exact: bool) -> bool:
    return actual is ABSENT


def _unordered(spec: JsonMap, actual: Any, exact: bool) -> bool:
    expected = spec["$unordered"]
    if not isinstance(actual, list) or len(actual) != len(expected):
        return False
    fits = [[int(mismatch(e, a, "", exact) is None) for a in actual] for e in expected]
    return sum(fits[row][col] for row, col in best_pairs(fits)) == len(expected)


class Operator(NamedTuple):
    """One `$` operator: how it judges, how it reads, what operand it takes."""

    holds: Callable[[JsonMap, Any, bool], bool]  # (whole spec, actual value, exact)
    wording: str  # how it reads in a detail; {} is the operand
    operand: JsonMap  # JSON Schema of what it takes, checked at collection


_NUMBER = {"type": "number"}
_NUMBER_PAIR = {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2}
OPERATORS: Mapping[str, Operator] = {
    "$absent": Operator(_absent, "absent", {"const": True}),
    "$any": Operator(_any, "any value", {"const": True}),
    "$approx": Operator(_approx, "about {}", _NUMBER),
    "$between": Operator(_between, "between {}", _NUMBER_PAIR),
    "$contains": Operator(_contains, "text containing {}", {"type": "string"}),
    "$icase": Operator(_icase, "{} in any case", {"type": "string"}),
    "$one_of": Operator(_one_of, "one of {}", {"type": "array", "minItems": 1}),
    "$regex": Operator(_regex, "a match of {}", {"type": "string", "format": "regex"}),
    "$tol": Operator(_tol, "within {}", {**_NUMBER, "minimum": 0}),
    "$unordered": Operator(_unordered, "{} in any order", {"type": "array"}),
}


def operators_hold(spec: JsonMap, actual: Any, exact: bool) -> bool:
    """Every operator of `spec` holds for `actual`."""
    return all(key in OPERATORS and OPERATORS[key].holds(spec, actual, exact) for key in spec)
