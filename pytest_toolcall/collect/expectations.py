"""Collection-time checks of a case's `expect`: why it could never pass, before any request.

Tool names, argument names, literals against the parameter schema (through `$ref`,
`allOf`, `anyOf`, `oneOf`; inside operators, nested objects and list items too) and
operator syntax. Each problem keeps the key path it is about, so its line can be found.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from pytest_toolcall.judge.fastvalid import Check, check_or_none
from pytest_toolcall.judge.rendering import clip, show
from pytest_toolcall.judge.schemas import (
    ToolChecker,
    as_schema,
    declared_names,
    fast_check,
    items_schema,
    property_schema,
    required_names,
    tool_checker,
    type_choices,
)
from pytest_toolcall.judge.values import (
    ABSENT_SPEC,
    OPERATORS,
    JsonMap,
    expected_calls,
    is_operator,
)

if TYPE_CHECKING:  # jsonschema is imported only to explain a value that is refused
    from jsonschema.exceptions import ValidationError

Path = tuple[str | int, ...]


class ExpectationProblem(NamedTuple):
    """Why an expectation can never pass, and the key path (from `expect`) it is about."""

    path: Path
    text: str


class _At(NamedTuple):
    """A (sub)schema to check against, the tool's whole parameters, and their checker."""

    schema: JsonMap
    root: JsonMap
    tool: ToolChecker

    def evolve(self, schema: JsonMap) -> _At:
        return _At(as_schema(schema), self.root, self.tool)

    def errors(self, value: Any) -> Iterator[ValidationError]:
        """What the tool's validator finds wrong with `value` under this (sub)schema."""
        validator = self.tool.validator
        if self.schema is not self.root:
            validator = validator.evolve(schema=self.schema)
        return validator.iter_errors(value)


def dotted(path: Sequence[Any]) -> str:
    """("expect", "calls", 0, "args") -> "expect.calls[0].args"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problem(path: Path, text: str) -> list[ExpectationProblem]:
    return [ExpectationProblem(path, f"{dotted(path)}: {text}")]


def _type_problems(value: Any, at: _At, path: Path) -> list[ExpectationProblem]:
    for kinds in type_choices(at.schema, at.root):
        if not any(at.tool.is_type(value, kind) for kind in kinds):
            return _problem(path, f"{show(value)} is not of type {' or '.join(map(repr, kinds))}")
    return []


def _literal_problems(value: Any, at: _At, path: Path) -> list[ExpectationProblem]:
    check = fast_check(at.tool, at.schema)
    if check is not None and check(value):  # the common case: nothing to explain
        return []
    from jsonschema.exceptions import best_match

    error = best_match(at.errors(value))
    if error is None:
        return []
    if error.validator == "enum":
        listed = ", ".join(o if isinstance(o, str) else show(o) for o in error.validator_value)
        return _problem(path, f"{show(value)} is not one of {listed}")
    return _problem(path, clip(error.message, 120))


def _object_problems(
    expected: JsonMap, at: _At, path: Path, owner: str, top_level: bool
) -> list[ExpectationProblem]:
    if not top_level and (problems := _type_problems(expected, at, path)):
        return problems
    names = declared_names(at.schema, at.root, top_level=top_level)
    required = required_names(at.schema, at.root)
    problems = []
    for key, value in expected.items():
        where = (*path, key)
        if names is not None and key not in names:
            noun, known = "argument" if top_level else "key", ", ".join(sorted(names)) or "none"
            problems += _problem(where, f"{owner} has no {noun} {key!r} (it has: {known})")
        elif value == ABSENT_SPEC and key in required:
            problems += _problem(where, f"$absent can never match, {owner} requires {key!r}")
        else:
            sub = at.evolve(property_schema(at.schema, at.root, key))
            problems += _value_problems(value, sub, where, f"{owner}.{key}")
    return problems


def _list_problems(
    expected: list[Any], at: _At, path: Path, owner: str
) -> list[ExpectationProblem]:
    items = at.evolve(items_schema(at.schema, at.root))
    return _type_problems(expected, at, path) or [
        problem
        for index, item in enumerate(expected)
        for problem in _value_problems(item, items, (*path, index), owner)
    ]


def _operator_problems(spec: JsonMap, at: _At, path: Path, owner: str) -> list[ExpectationProblem]:
    problems = []
    for key, operand in spec.items():
        if key not in OPERATORS:
            problems += _problem(path, f"unknown operator {key!r} (known: {', '.join(OPERATORS)})")
        elif error := _operand_error(key, operand):
            problems += _problem(path, f"{key}: {clip(error.message)}")
        elif key == "$tol" and "$approx" not in spec:
            problems += _problem(path, "$tol only goes with $approx")
        elif key == "$one_of":
            problems += [p for option in operand for p in _value_problems(option, at, path, owner)]
        elif key == "$unordered":
            problems += _list_problems(operand, at, path, owner)
    return problems


def _operand_error(key: str, operand: Any) -> ValidationError | None:
    """What is wrong with an operator's operand, as jsonschema words it (None: nothing)."""
    fine = _operand_check(key)
    if fine is not None and fine(operand):
        return None
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import best_match

    schema = OPERATORS[key].operand
    return best_match(
        Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(operand)
    )


@cache
def _operand_check(key: str) -> Check | None:
    return check_or_none(OPERATORS[key].operand)  # (None for $regex: its format is checked)


def _value_problems(value: Any, at: _At, path: Path, owner: str) -> list[ExpectationProblem]:
    """Why `value` can never match; `at` validates against the parameter's (sub)schema."""
    if is_operator(value):
        return _operator_problems(value, at, path, owner)
    if isinstance(value, Mapping):
        if operators := [str(key) for key in value if str(key)[:1] == "$"]:
            return _problem(path, f"mixes operators ({', '.join(operators)}) with plain keys")
        return _object_problems(value, at, path, owner, top_level=False)
    if isinstance(value, list):
        return _list_problems(value, at, path, owner)
    return _literal_problems(value, at, path)


def _call_problems(
    call: JsonMap, tools: Mapping[str, JsonMap], path: Path
) -> list[ExpectationProblem]:
    name = call["tool"]
    if name not in tools:
        known = ", ".join(sorted(tools))
        text = f"{dotted(path)}.tool {name!r} is not one of the suite's tools: {known}"
        return [ExpectationProblem((*path, "tool"), text)]
    parameters = as_schema(tools[name])
    at = _At(parameters, parameters, tool_checker(parameters))
    return _object_problems(call.get("args") or {}, at, (*path, "args"), name, True)


def _form_problems(
    form: JsonMap, tools: Mapping[str, JsonMap], path: Path
) -> list[ExpectationProblem]:
    if form.get("no_call"):
        return []
    expected, listed = expected_calls(form)
    return [
        problem
        for index, call in enumerate(expected)
        for problem in _call_problems(call, tools, (*path, "calls", index) if listed else path)
    ]


def located_expectation_problems(
    expect: JsonMap, tools: Mapping[str, JsonMap], at: Path = ("expect",)
) -> list[ExpectationProblem]:
    """Why an expectation could never pass against these tools, each with its key path
    (`at` is where the expectation itself sits, e.g. an agent case's step; the steps of an
    agent case are checked one by one by `collect.steps`)."""
    if "steps" in expect:
        return []
    if "any_of" not in expect:
        return _form_problems(expect, tools, at)
    return [
        problem
        for index, form in enumerate(expect["any_of"])
        for problem in _form_problems(form, tools, (*at, "any_of", index))
    ]


def expectation_problems(expect: JsonMap, tools: Mapping[str, JsonMap]) -> list[str]:
    """Why an expectation could never pass against these tools; [] when it is fine.

    `tools` maps tool name -> its JSON Schema `parameters`.
    """
    return [problem.text for problem in located_expectation_problems(expect, tools)]
