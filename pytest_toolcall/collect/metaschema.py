"""Is a tool's `parameters` a valid JSON Schema? jsonschema's answer, without its cost.

`Draft202012Validator.check_schema` resolves the 2020-12 meta-schema's `$dynamicRef`s at
every node it visits: about 20 ms for one BFCL-sized tool, 90% of collecting a suite whose
cases carry their own tools. `parameters_error` first walks the schema with the
meta-schema's own rules for the keywords tools use (types, properties, items, enum,
required, bounds, composition, pattern, $ref ...). A schema that walk fully vouches for is
valid; anything else (a keyword it does not check, a value that breaks a rule, an odd
number type) goes to `check_schema` itself, so every verdict and every error message is
jsonschema's. The walk only ever accepts what the meta-schema accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema is imported only for a schema the walk cannot vouch for
    from jsonschema import SchemaError

MAX_DEPTH = 64  # deeper schemas go to jsonschema (no recursion limits here)
SIMPLE_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_ANCHOR = re.compile(r"^[A-Za-z_][-A-Za-z0-9._]*$")  # the meta-schema's anchorString
# Keywords the 2020-12 meta-schema (a published, unchanging document) constrains and the
# walk does not check: a schema using one goes to jsonschema. With RULES they are every
# keyword the meta-schema names (a test compares them with jsonschema's own copy).
UNCHECKED_KEYWORDS = frozenset(
    {"$id", "$schema", "$vocabulary", "$recursiveAnchor", "$recursiveRef", "dependencies"}
)


def parameters_error(schema: Any) -> SchemaError | None:
    """The `jsonschema.SchemaError` that `check_schema` raises for `schema`, or None."""
    if _is_schema(schema, 0):
        return None
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return exc
    return None


@cache
def _format_checker() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator.FORMAT_CHECKER


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _is_string_set(value: Any) -> bool:
    return (
        type(value) is list
        and all(type(item) is str for item in value)
        and len(set(value)) == len(value)
    )


def _is_type(value: Any) -> bool:
    if type(value) is str:
        return value in SIMPLE_TYPES
    return bool(value) and _is_string_set(value) and all(item in SIMPLE_TYPES for item in value)


def _is_schema_map(value: Any, depth: int) -> bool:
    return isinstance(value, dict) and all(_is_schema(item, depth) for item in value.values())


def _is_schema_list(value: Any, depth: int) -> bool:
    return type(value) is list and bool(value) and all(_is_schema(item, depth) for item in value)


def _conforms(value: Any, form: str) -> bool:
    return type(value) is str and _format_checker().conforms(value, form)


Rule = Callable[[Any, int], bool]
_SCHEMA: Rule = lambda value, depth: _is_schema(value, depth)  # noqa: E731
_ANY: Rule = lambda value, depth: True  # noqa: E731
_TEXT: Rule = lambda value, depth: type(value) is str  # noqa: E731
_FLAG: Rule = lambda value, depth: type(value) is bool  # noqa: E731
_NUMBER: Rule = lambda value, depth: _is_number(value)  # noqa: E731
_COUNT: Rule = lambda value, depth: _is_count(value)  # noqa: E731
_LIST: Rule = lambda value, depth: type(value) is list  # noqa: E731

RULES: dict[str, Rule] = {
    "type": lambda value, depth: _is_type(value),
    "enum": _LIST,
    "const": _ANY,
    "default": _ANY,
    "examples": _LIST,
    **dict.fromkeys(("title", "description", "$comment", "format"), _TEXT),
    **dict.fromkeys(("contentEncoding", "contentMediaType"), _TEXT),
    **dict.fromkeys(("deprecated", "readOnly", "writeOnly", "uniqueItems"), _FLAG),
    **dict.fromkeys(("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"), _NUMBER),
    "multipleOf": lambda value, depth: _is_number(value) and value > 0,
    **dict.fromkeys(
        (
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "minProperties",
            "maxProperties",
            "minContains",
            "maxContains",
        ),
        _COUNT,
    ),
    "required": lambda value, depth: _is_string_set(value),
    "dependentRequired": lambda value, depth: (
        isinstance(value, dict) and all(_is_string_set(item) for item in value.values())
    ),
    "pattern": lambda value, depth: _conforms(value, "regex"),
    **dict.fromkeys(
        ("$ref", "$dynamicRef"), lambda value, depth: _conforms(value, "uri-reference")
    ),
    **dict.fromkeys(
        ("$anchor", "$dynamicAnchor"),
        lambda value, depth: type(value) is str and _ANCHOR.search(value) is not None,
    ),
    **dict.fromkeys(("properties", "$defs", "definitions", "dependentSchemas"), _is_schema_map),
    "patternProperties": lambda value, depth: (
        _is_schema_map(value, depth) and all(_conforms(key, "regex") for key in value)
    ),
    **dict.fromkeys(("prefixItems", "allOf", "anyOf", "oneOf"), _is_schema_list),
    **dict.fromkeys(
        (
            "items",
            "contains",
            "additionalProperties",
            "propertyNames",
            "if",
            "then",
            "else",
            "not",
            "unevaluatedItems",
            "unevaluatedProperties",
            "contentSchema",
        ),
        _SCHEMA,
    ),
}


def _is_schema(node: Any, depth: int) -> bool:
    """True only if the meta-schema accepts `node`; False means "ask jsonschema"."""
    if type(node) is bool:
        return True
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return False
    for key, value in node.items():
        rule = RULES.get(key)
        if rule is None:
            if key in UNCHECKED_KEYWORDS:
                return False
            continue  # a keyword the meta-schema does not know: anything goes
        if not rule(value, depth + 1):
            return False
    return True
