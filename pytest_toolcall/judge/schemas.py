"""Tool parameter schemas: BFCL's strict validator and views through composition.

Pydantic and MCP servers write parameters with `$ref` into `$defs` (or `definitions`),
`allOf`, and `anyOf` with `{"type": "null"}` for optional fields. The views here follow
those keywords (local refs only) to answer what BFCL's rules ask: which argument names are
declared, what schema a key has, which keys are required, which JSON types fit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote

from pytest_toolcall.identity_memo import by_identity, by_identity_pair
from pytest_toolcall.judge.fastvalid import STRICT_TYPE_CHECKS, Check, check_or_none

if TYPE_CHECKING:  # jsonschema is imported when a validator is first needed
    from jsonschema.protocols import Validator

JsonMap = Mapping[str, Any]
NO_SCHEMA: JsonMap = {}  # shared and never changed, for the id-keyed cache
MAX_DEPTH = 32  # how deep composition is followed (refs may be recursive)
_OBJECT_KEYWORDS = ("properties", "additionalProperties", "patternProperties")


def as_schema(schema: Any) -> JsonMap:
    """`schema` if it is a mapping, else the empty schema (booleans, junk)."""
    if isinstance(schema, dict):  # (the usual case, without the slower ABC check)
        return schema
    return schema if isinstance(schema, Mapping) else NO_SCHEMA


def _is_strict_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


@cache
def _strict_validator_class(base: type[Validator]) -> type[Validator]:
    """`base` with BFCL's exact integers: 30.0 is not an integer."""
    from jsonschema.validators import extend

    return extend(base, type_checker=base.TYPE_CHECKER.redefine("integer", _is_strict_integer))


class ToolChecker:
    """A tool's validator, its declared argument names (None: any name goes), and a fast
    yes/no check with the validator's exact meaning (None: only the validator can say).

    The check is compiled at the second call to judge: compiling walks the whole schema,
    while one validation walks only the arguments given, so a tool used once (a case with
    its own tools) is cheaper validated, and one used by many cases cheaper compiled.
    The validator (and jsonschema) is made only when something needs it.
    """

    def __init__(self, parameters: JsonMap) -> None:
        self.parameters = parameters
        self.names = declared_names(parameters, parameters, top_level=True)
        self.judged = 0

    @functools.cached_property
    def validator(self) -> Validator:
        from jsonschema import Draft202012Validator
        from jsonschema.validators import validator_for

        base = validator_for(self.parameters, default=Draft202012Validator)
        return _strict_validator_class(base)(self.parameters)

    @functools.cached_property
    def default_draft(self) -> bool:
        """Whether the validator is 2020-12 with BFCL's integers, which `fastvalid` knows."""
        if not isinstance(self.parameters, Mapping) or "$schema" not in self.parameters:
            return True  # validator_for's default, without asking it
        from jsonschema import Draft202012Validator

        return type(self.validator) is _strict_validator_class(Draft202012Validator)

    @functools.cached_property
    def check(self) -> Check | None:
        return fast_check(self, self.parameters)

    def accepts(self, instance: Any) -> bool:
        """Whether the tool's parameters accept `instance`."""
        self.judged += 1
        if self.judged > 1 and self.check is not None:
            return self.check(instance)
        return self.validator.is_valid(instance)

    def is_type(self, instance: Any, kind: str) -> bool:
        """Whether `instance` is of JSON type `kind`, as the validator says."""
        known = STRICT_TYPE_CHECKS.get(kind) if self.default_draft else None
        return known(instance) if known is not None else self.validator.is_type(instance, kind)


@by_identity  # (judge asks for the same few tools' checkers thousands of times)
def tool_checker(parameters: JsonMap) -> ToolChecker:
    """The checker of a tool's `parameters`, made once per schema object."""
    return ToolChecker(parameters)


def fast_check(checker: ToolChecker, schema: JsonMap) -> Check | None:
    """`fastvalid`'s check of `schema` (the tool's parameters or a part of them, judged as
    `checker` would), made once per schema object; None when only its validator can say."""
    return _compiled(as_schema(schema)) if checker.default_draft else None


@by_identity
def _compiled(schema: JsonMap) -> Check | None:
    return check_or_none(schema, strict_integers=True)


# ---- views through $ref / allOf / anyOf / oneOf ------------------------------------------


def resolve_ref(ref: str, root: JsonMap) -> JsonMap:
    """The schema a local `$ref` ("#/$defs/Point") points to; {} when it is not local."""
    if not ref.startswith("#"):
        return NO_SCHEMA
    node: Any = root
    for token in filter(None, unquote(ref[1:]).split("/")):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, Mapping) and token in node:
            node = node[token]
        else:
            return NO_SCHEMA
    return as_schema(node)


class Part(NamedTuple):
    """A schema reached from another through composition; `must` if it always applies."""

    schema: JsonMap
    must: bool


@by_identity_pair
def schema_parts(schema: JsonMap, root: JsonMap) -> tuple[Part, ...]:
    """`schema` and every schema reached through $ref, allOf (must) and anyOf/oneOf (may)."""
    return tuple(_parts(as_schema(schema), root, True, 0))


def _parts(schema: JsonMap, root: JsonMap, must: bool, depth: int) -> Iterator[Part]:
    yield Part(schema, must)
    if depth >= MAX_DEPTH:
        return
    if isinstance(schema.get("$ref"), str):
        yield from _parts(resolve_ref(schema["$ref"], root), root, must, depth + 1)
    for keyword, always in (("allOf", True), ("anyOf", False), ("oneOf", False)):
        for member in schema.get(keyword) or ():
            yield from _parts(as_schema(member), root, must and always, depth + 1)


def _is_object_part(schema: JsonMap) -> bool:
    kind = schema.get("type")
    return (
        any(key in schema for key in _OBJECT_KEYWORDS)
        or kind == "object"
        or (isinstance(kind, list) and "object" in kind)
    )


@by_identity_pair
def declared_names(schema: JsonMap, root: JsonMap, *, top_level: bool) -> frozenset[str] | None:
    """The keys an object may have, or None when it may have any.

    Top level (BFCL): undeclared arguments are refused unless the schema says extras are
    fine; nested objects follow JSON Schema (extras fine unless additionalProperties false).
    Names declared in any part count; a part that allows extras allows them.
    """
    parts = [part.schema for part in schema_parts(schema, root) if _is_object_part(part.schema)]
    for part in parts:
        if part.get("additionalProperties", not top_level) is not False:
            return None
        if "patternProperties" in part:
            return None
    return frozenset(name for part in parts for name in as_schema(part.get("properties")))


@by_identity_pair
def property_schema(schema: JsonMap, root: JsonMap, key: str) -> JsonMap:
    """The schema of `key` in objects valid for `schema` ({} when nothing says)."""
    found = [
        part
        for part in schema_parts(schema, root)
        if key in as_schema(part.schema.get("properties"))
    ]
    return _combined([(p.schema["properties"][key], p.must) for p in found])


@by_identity_pair
def items_schema(schema: JsonMap, root: JsonMap) -> JsonMap:
    """The schema of list items for `schema` ({} when nothing says)."""
    found = [part for part in schema_parts(schema, root) if "items" in part.schema]
    return _combined([(part.schema["items"], part.must) for part in found])


def _combined(schemas: list[tuple[Any, bool]]) -> JsonMap:
    musts = [as_schema(s) for s, must in schemas if must]
    mays = [as_schema(s) for s, must in schemas if not must]
    if len(musts) == 1 and not mays:
        return musts[0]
    return {"allOf": musts + ([{"anyOf": mays}] if mays else [])} if schemas else NO_SCHEMA


@by_identity_pair
def required_names(schema: JsonMap, root: JsonMap) -> frozenset[str]:
    """Keys every valid object has (those required by parts that always apply)."""
    return frozenset(
        name
        for part in schema_parts(schema, root)
        if part.must
        for name in part.schema.get("required") or ()
        if isinstance(name, str)
    )


@by_identity_pair
def type_choices(schema: JsonMap, root: JsonMap, depth: int = 0) -> list[frozenset[str]]:
    """JSON types a valid value may have: it has one type of every returned set."""
    choices = []
    kind = schema.get("type")
    if isinstance(kind, str | list):
        choices.append(frozenset([kind] if isinstance(kind, str) else kind))
    if depth >= MAX_DEPTH:
        return choices
    members = list(schema.get("allOf") or ())
    if isinstance(schema.get("$ref"), str):
        members.append(resolve_ref(schema["$ref"], root))
    for member in members:
        choices += type_choices(as_schema(member), root, depth + 1)
    for keyword in ("anyOf", "oneOf"):
        branches = [type_choices(as_schema(b), root, depth + 1) for b in schema.get(keyword) or ()]
        if branches and all(branches):
            choices.append(frozenset(kind for branch in branches for s in branch for kind in s))
    return choices
