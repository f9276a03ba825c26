"""A yes/no JSON Schema check, compiled once, for the common case: the file is fine.

jsonschema builds an error-tracking validator per node it descends into (`evolve`,
`descend`, `if`/`anyOf` branches): a second per thousand cases with their own tools, even
when nothing is wrong. `compile_check(schema)` turns a schema into one Python predicate
with the exact meaning of Draft 2020-12 for the keywords it knows, and refuses
(`Unsupported`) any schema with a keyword or value it does not handle exactly. Callers
ask jsonschema itself whenever the predicate says no, so what is reported, and how, is
always jsonschema's: this only skips the search for errors in a document that has none.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
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


def compile_check(schema: Any) -> Check:
    """A predicate: True exactly when `schema` (no `$ref`s) accepts the instance."""
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, Mapping):
        raise Unsupported(f"schema {schema!r}")
    checks = [
        check
        for key, value in schema.items()
        if key not in ANNOTATIONS and (check := _keyword(key, value, schema)) is not None
    ]
    if len(checks) == 1:
        return checks[0]

    def all_of(instance: Any) -> bool:
        return all(check(instance) for check in checks)

    return all_of


def _keyword(key: str, value: Any, schema: Mapping[str, Any]) -> Check | None:
    """The check of one keyword (None: nothing to check, e.g. a lone `then`)."""
    builder = _BUILDERS.get(key)
    if builder is None:
        raise Unsupported(f"keyword {key!r}")
    return builder(value, schema)


def _type(value: Any, schema: Mapping[str, Any]) -> Check:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(name in TYPE_CHECKS for name in names):
        raise Unsupported(f"type {value!r}")
    checks = [TYPE_CHECKS[name] for name in names]
    return lambda instance: any(check(instance) for check in checks)


def _properties(value: Any, schema: Mapping[str, Any]) -> Check:
    checks = [(name, compile_check(sub)) for name, sub in value.items()]

    def properties(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        return all(check(instance[name]) for name, check in checks if name in instance)

    return properties


def _additional(value: Any, schema: Mapping[str, Any]) -> Check:
    if "patternProperties" in schema:
        raise Unsupported("patternProperties")
    known = frozenset(schema.get("properties", {}))
    check = compile_check(value)

    def additional(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        return all(check(instance[key]) for key in instance if key not in known)

    return additional


def _required(value: Any, schema: Mapping[str, Any]) -> Check:
    names = list(value)
    return lambda instance: not isinstance(instance, dict) or all(n in instance for n in names)


def _const(value: Any, schema: Mapping[str, Any]) -> Check:
    if isinstance(value, bool):  # jsonschema: True is not 1
        return lambda instance: instance is value
    if isinstance(value, str):
        return lambda instance: isinstance(instance, str) and instance == value
    raise Unsupported(f"const {value!r}")


def _enum(value: Any, schema: Mapping[str, Any]) -> Check:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Unsupported(f"enum {value!r}")
    members = frozenset(value)
    return lambda instance: isinstance(instance, str) and instance in members


def _pattern(value: Any, schema: Mapping[str, Any]) -> Check:
    regexp = re.compile(value)
    return lambda instance: not isinstance(instance, str) or regexp.search(instance) is not None


def _min_length(value: Any, schema: Mapping[str, Any]) -> Check:
    return lambda instance: not isinstance(instance, str) or len(instance) >= value


def _min_items(value: Any, schema: Mapping[str, Any]) -> Check:
    return lambda instance: not isinstance(instance, list) or len(instance) >= value


def _bound(fails: Callable[[Any, Any], bool]) -> Callable[[Any, Mapping[str, Any]], Check]:
    """A bound as jsonschema words it: a number fails when `fails(number, bound)`."""

    def build(value: Any, schema: Mapping[str, Any]) -> Check:
        if not _is_number(value):
            raise Unsupported(f"bound {value!r}")
        return lambda instance: not _is_number(instance) or not fails(instance, value)

    return build


def _items(value: Any, schema: Mapping[str, Any]) -> Check:
    if "prefixItems" in schema:
        raise Unsupported("prefixItems")
    check = compile_check(value)
    return lambda instance: not isinstance(instance, list) or all(map(check, instance))


def _property_names(value: Any, schema: Mapping[str, Any]) -> Check:
    check = compile_check(value)
    return lambda instance: not isinstance(instance, dict) or all(map(check, instance))


def _members(value: Any) -> list[Check]:
    if not isinstance(value, list) or not value:
        raise Unsupported("empty composition")
    return [compile_check(member) for member in value]


def _any_of(value: Any, schema: Mapping[str, Any]) -> Check:
    checks = _members(value)
    return lambda instance: any(check(instance) for check in checks)


def _one_of(value: Any, schema: Mapping[str, Any]) -> Check:
    checks = _members(value)
    return lambda instance: sum(1 for check in checks if check(instance)) == 1


def _all_of(value: Any, schema: Mapping[str, Any]) -> Check:
    checks = _members(value)
    return lambda instance: all(check(instance) for check in checks)


def _not(value: Any, schema: Mapping[str, Any]) -> Check:
    check = compile_check(value)
    return lambda instance: not check(instance)


def _if(value: Any, schema: Mapping[str, Any]) -> Check:
    condition = compile_check(value)
    then = compile_check(schema.get("then", True))
    otherwise = compile_check(schema.get("else", True))
    return lambda instance: then(instance) if condition(instance) else otherwise(instance)


def _branch(value: Any, schema: Mapping[str, Any]) -> None:
    compile_check(value)  # checked by `if` (alone, jsonschema ignores it); must be supported


_BUILDERS: dict[str, Callable[[Any, Mapping[str, Any]], Check | None]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "const": _const,
    "enum": _enum,
    "pattern": _pattern,
    "minLength": _min_length,
    "minItems": _min_items,
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
