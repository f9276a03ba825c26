"""A yes/no JSON Schema check, compiled once, for the common case: the file is fine.

jsonschema builds an error-tracking validator per node it descends into (`evolve`,
`descend`, `if`/`anyOf` branches): a second per thousand cases with their own tools, even
when nothing is wrong. `compile_check(schema)` turns a schema into one Python predicate
with the exact meaning of Draft 2020-12 for the keywords it knows, and refuses
(`Unsupported`) any schema with a keyword or value it does not handle exactly. Callers
ask jsonschema itself whenever the predicate says no, so what is reported, and how, is
always jsonschema's: this only skips the search for errors in a document that has none.
With `strict_integers`, 30.0 is not an integer (BFCL's rule, `judge.schemas`).
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
Builder = Callable[["_Compiler", Any, Mapping[str, Any]], Check]
ANNOTATIONS = frozenset(
    {"$id", "$schema", "$comment", "$defs", "title", "description", "default", "examples"}
)


class Unsupported(Exception):
    """A keyword (or a value of one) this module cannot check exactly as jsonschema does."""


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_strict_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


TYPE_CHECKS: dict[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "number": _is_number,
    "integer": lambda value: (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer())
    ),
}


STRICT_TYPE_CHECKS: dict[str, Check] = {**TYPE_CHECKS, "integer": _is_strict_integer}


def compile_check(schema: Any, *, strict_integers: bool = False) -> Check:
    """A predicate: True exactly when `schema` (no `$ref`s) accepts the instance."""
    return _Compiler(STRICT_TYPE_CHECKS if strict_integers else TYPE_CHECKS).compile(schema)


def check_or_none(schema: Any, *, strict_integers: bool = False) -> Check | None:
    """`compile_check(schema)`, or None when `schema` uses what this module cannot check."""
    try:
        return compile_check(schema, strict_integers=strict_integers)
    except Unsupported:
        return None


class _Compiler:
    """Compiles schemas with one table of type checks."""

    def __init__(self, types: Mapping[str, Check]) -> None:
        self.types = types

    def compile(self, schema: Any) -> Check:
        """The predicate of `schema` (raises Unsupported)."""
        return _compile(self, schema)


def _compile(compiler: _Compiler, schema: Any) -> Check:
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, Mapping):
        raise Unsupported(f"schema {schema!r}")
    checks = [
        check
        for key, value in schema.items()
        if key not in ANNOTATIONS and (check := _keyword(compiler, key, value, schema)) is not None
    ]
    return _every(checks)


def _every(checks: list[Check]) -> Check:
    """True when every check is."""
    if len(checks) == 1:
        return checks[0]

    def every(instance: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a loop: no generator made per node
            if not check(instance):
                return False
        return True

    return every


def _some(checks: list[Check]) -> Check:
    """True when some check is."""
    if len(checks) == 1:
        return checks[0]

    def some(instance: Any) -> bool:
        for check in checks:  # noqa: SIM110
            if check(instance):
                return True
        return False

    return some


def _keyword(compiler: _Compiler, key: str, value: Any, schema: Mapping[str, Any]) -> Check | None:
    """The check of one keyword (None: nothing to check, e.g. a lone `then`)."""
    builder = _BUILDERS.get(key)
    if builder is None:
        raise Unsupported(f"keyword {key!r}")
    return builder(compiler, value, schema)


def _type(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(name in TYPE_CHECKS for name in names):
        raise Unsupported(f"type {value!r}")
    return _some([compiler.types[name] for name in names])


def _properties(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    if not isinstance(value, Mapping):
        raise Unsupported(f"properties {value!r}")
    checks = [(name, compiler.compile(sub)) for name, sub in value.items()]

    def properties(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        for name, check in checks:  # noqa: SIM110
            if name in instance and not check(instance[name]):
                return False
        return True

    return properties


def _additional(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    if "patternProperties" in schema:
        raise Unsupported("patternProperties")
    known = frozenset(_properties_of(schema))
    check = compiler.compile(value)

    def additional(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        return all(check(instance[key]) for key in instance if key not in known)

    return additional


def _properties_of(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise Unsupported(f"properties {properties!r}")
    return properties


def _required(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise Unsupported(f"required {value!r}")
    names = list(value)
    return lambda instance: not isinstance(instance, dict) or all(n in instance for n in names)


def _const(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    if isinstance(value, bool):  # jsonschema: True is not 1
        return lambda instance: instance is value
    if isinstance(value, str):
        return lambda instance: isinstance(instance, str) and instance == value
    raise Unsupported(f"const {value!r}")


def _enum(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Unsupported(f"enum {value!r}")
    members = frozenset(value)
    return lambda instance: isinstance(instance, str) and instance in members


def _pattern(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    try:
        regexp = re.compile(value)
    except (re.error, TypeError):
        raise Unsupported(f"pattern {value!r}") from None
    return lambda instance: not isinstance(instance, str) or regexp.search(instance) is not None


def _count(value: Any) -> int:
    """A min/max Length or Items value (a non-negative integer, 3.0 too, as jsonschema)."""
    if not _is_number(value) or value < 0 or value != int(value):
        raise Unsupported(f"count {value!r}")
    return int(value)


def _size(kind: type, *, at_least: bool) -> Builder:
    """minLength / maxLength (of a str) or minItems / maxItems (of a list)."""

    def build(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
        count = _count(value)
        if at_least:
            return lambda instance: not isinstance(instance, kind) or len(instance) >= count
        return lambda instance: not isinstance(instance, kind) or len(instance) <= count

    return build


def _bound(fails: Callable[[Any, Any], bool]) -> Builder:
    """A bound as jsonschema words it: a number fails when `fails(number, bound)`."""

    def build(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
        if not _is_number(value):
            raise Unsupported(f"bound {value!r}")
        return lambda instance: not _is_number(instance) or not fails(instance, value)

    return build


def _items(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    if "prefixItems" in schema:
        raise Unsupported("prefixItems")
    check = compiler.compile(value)
    return lambda instance: not isinstance(instance, list) or all(map(check, instance))


def _property_names(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    check = compiler.compile(value)
    return lambda instance: not isinstance(instance, dict) or all(map(check, instance))


def _members(compiler: _Compiler, value: Any) -> list[Check]:
    if not isinstance(value, list) or not value:
        raise Unsupported("empty composition")
    return [compiler.compile(member) for member in value]


def _any_of(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    return _some(_members(compiler, value))


def _one_of(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    checks = _members(compiler, value)
    return lambda instance: sum(1 for check in checks if check(instance)) == 1


def _all_of(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    return _every(_members(compiler, value))


def _not(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    check = compiler.compile(value)
    return lambda instance: not check(instance)


def _if(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    condition = compiler.compile(value)
    then = compiler.compile(schema.get("then", True))
    otherwise = compiler.compile(schema.get("else", True))
    return lambda instance: then(instance) if condition(instance) else otherwise(instance)


def _branch(compiler: _Compiler, value: Any, schema: Mapping[str, Any]) -> None:
    compiler.compile(value)  # checked by `if` (alone, jsonschema ignores it); must be supported


_BUILDERS: dict[str, Builder | Callable[[_Compiler, Any, Mapping[str, Any]], None]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "const": _const,
    "enum": _enum,
    "pattern": _pattern,
    "minLength": _size(str, at_least=True),
    "maxLength": _size(str, at_least=False),
    "minItems": _size(list, at_least=True),
    "maxItems": _size(list, at_least=False),
    "minimum": _bound(lambda instance, bound: instance < bound),
    "maximum": _bound(lambda instance, bound: instance > bound),
    "exclusiveMinimum": _bound(lambda instance, bound: instance <= bound),
    "exclusiveMaximum": _bound(lambda instance, bound: instance >= bound),
    "items": _items,
    "propertyNames": _property_names,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "allOf": _all_of,
    "not": _not,
    "if": _if,
    "then": _branch,
    "else": _branch,
}
