"""YAML 1.2 core-schema loading with line numbers and duplicate-key detection.

PyYAML follows YAML 1.1: `on`/`yes` are booleans, `12:30` is 750, `2024-05-01` a date,
`010` octal and `1e3` a string. Here plain scalars resolve by the YAML 1.2 core schema
(spec 10.3.2) instead; merge keys (`<<: *defaults`) still work. Mappings come back as
`LineDict`, which remembers where they (and each key) started, for error messages.

Speed: libyaml (PyYAML's C loader) parses and composes; tags resolve through a lean
`resolve` (the C composer calls it for every scalar), and a document without anchors
is built by one direct walk of its nodes instead of PyYAML's generic constructor (same
objects, same errors; a document that reuses a node goes the generic way).

`load_yaml(text, lines=False)` builds plain dicts below the top level and the items of
its `cases:` list (those stay `LineDict`s): what a case file without problems needs,
without the bookkeeping of every nested mapping's lines. A document with anchors raises
`LinesNeeded` there; so the caller loads it again with lines.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from pytest_toolcall.gc_pause import gc_paused

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # type: ignore[assignment]

NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
MERGE_TAG = "tag:yaml.org,2002:merge"

# The core schema's table, row by row; tried in this order (an int is also a float).
CORE_RESOLVERS: tuple[tuple[str, str, str], ...] = (
    (NULL_TAG, r"null|Null|NULL|~|", "nN~"),
    (BOOL_TAG, r"true|True|TRUE|false|False|FALSE", "tTfF"),
    (INT_TAG, r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        FLOAT_TAG,
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?(?:\.inf|\.Inf|\.INF)|\.nan|\.NaN|\.NAN",
        "-+.0123456789",
    ),
)


class YamlError(Exception):
    """A YAML document that does not parse, with the 1-based line of the problem."""

    def __init__(self, problem: str, line: int | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


class LineDict(dict):
    """A mapping that knows its own line, the line of each key and if it was `{...}`."""

    line: int
    key_lines: dict[str, int]
    flow: bool


STR_TAG = "tag:yaml.org,2002:str"
SEQ_TAG = "tag:yaml.org,2002:seq"
MAP_TAG = "tag:yaml.org,2002:map"


PLAIN_TAG_CACHE, PLAIN_TAG_CACHE_CHARS = 50_000, 40
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar -> its tag (the resolvers never change)


class _SharedNode(Exception):
    """A node met twice (an alias): the document is built the generic way."""


class LinesNeeded(Exception):
    """A document that `load_yaml(..., lines=False)` does not build: load it with lines."""


class Yaml12Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader: core-schema scalars, line-annotated mappings, no duplicate keys."""

    every_line = True  # every mapping a LineDict (else see `load_yaml(lines=False)`)

    def resolve(self, kind: Any, value: Any, implicit: tuple[bool, bool]) -> str:
        """BaseResolver.resolve for a loader without path resolvers, minus its overhead
        (short plain scalars, mostly keys like `type`, are looked up once per run)."""
        if kind is yaml.ScalarNode:
            if implicit[0]:
                known = _PLAIN_TAGS.get(value)
                if known is not None:
                    return known
                tag = STR_TAG
                for candidate, regexp in self.yaml_implicit_resolvers.get(value[:1], ()):
                    if regexp.match(value):
                        tag = candidate
                        break
                if len(value) <= PLAIN_TAG_CACHE_CHARS and len(_PLAIN_TAGS) < PLAIN_TAG_CACHE:
                    _PLAIN_TAGS[value] = tag
                return tag
            return STR_TAG
        return SEQ_TAG if kind is yaml.SequenceNode else MAP_TAG

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """No path resolvers: nothing to track (the C composer calls this per node)."""

    def ascend_resolver(self) -> None:
        """No path resolvers: nothing to track."""

    def construct_document(self, node: yaml.Node) -> Any:
        try:
            return _DirectBuilder(self, every_line=self.every_line).document(node)
        except _SharedNode:
            if not self.every_line:
                raise LinesNeeded from None
            self.constructed_objects, self.recursive_objects = {}, {}
            return super().construct_document(node)


class _TopLinesLoader(Yaml12Loader):
    """Lines kept only at the top level and on the cases (`load_yaml(lines=False)`)."""

    every_line = False


class _DirectBuilder:
    """Builds a tree of nodes (no node met twice) as PyYAML's constructor would, in the
    same depth-first document order, so the same error comes first; scalars of other
    tags, sequences and mappings of other tags go to the loader's own constructors.
    Without `every_line`, mappings are plain dicts but for the top one and its cases'."""

    def __init__(self, loader: Yaml12Loader, *, every_line: bool = True) -> None:
        self.loader = loader
        self.constructors = loader.yaml_constructors
        self.seen: set[int] = set()
        self.every_line = every_line

    def document(self, node: yaml.Node) -> Any:
        if self.every_line or not _is_plain(node, yaml.MappingNode, MAP_TAG):
            return self.build(node)
        self.seen.add(id(node))
        return self.mapping(node, lined=True, top=True)

    def build(self, node: yaml.Node) -> Any:
        kind, tag = type(node), node.tag
        if kind is yaml.ScalarNode:
            if tag == STR_TAG:
                return node.value
            if tag in _CORE_SCALAR_TAGS:
                return self.constructors[tag](self.loader, node)
            return self.loader.construct_object(node, deep=True)
        if id(node) in self.seen:
            raise _SharedNode
        self.seen.add(id(node))
        if kind is yaml.SequenceNode and tag == SEQ_TAG:
            return [self.build(child) for child in node.value]
        if kind is yaml.MappingNode and tag == MAP_TAG:
            return self.mapping(node, lined=self.every_line)
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.MappingNode, *, lined: bool, top: bool = False) -> dict:
        """`_construct_mapping` (a plain dict unless `lined`), building keys and values
        with `build`; for the `top` mapping, its `cases:` items with their lines."""
        if any(key_node.tag in _FLATTENED_KEY_TAGS for key_node, _ in node.value):
            self.loader.flatten_mapping(node)  # (a no-op without `<<` or `!!value` keys)
        mapping: dict = LineDict() if lined else {}
        if lined:
            mapping.line = node.start_mark.line + 1
            key_lines = mapping.key_lines = {}
            mapping.flow = bool(node.flow_style)
        for key_node, value_node in node.value:
            key = self.build(key_node)
            if key in mapping:
                raise YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            if top and key == "cases" and _is_plain(value_node, yaml.SequenceNode, SEQ_TAG):
                mapping[key] = self.cases(value_node)
            else:
                mapping[key] = self.build(value_node)
            if lined and isinstance(key, str):
                key_lines[key] = key_node.start_mark.line + 1
        return mapping

    def cases(self, node: yaml.SequenceNode) -> list[Any]:
        """The top mapping's `cases:` list: its mappings with their lines."""
        if id(node) in self.seen:
            raise _SharedNode
        self.seen.add(id(node))
        items = []
        for child in node.value:
            if _is_plain(child, yaml.MappingNode, MAP_TAG) and id(child) not in self.seen:
                self.seen.add(id(child))
                items.append(self.mapping(child, lined=True))
            else:
                items.append(self.build(child))
        return items


def _is_plain(node: yaml.Node, kind: type[yaml.Node], tag: str) -> bool:
    return type(node) is kind and node.tag == tag


def _core_resolvers() -> dict[str | None, list[tuple[str, re.Pattern[str]]]]:
    merge = [(tag, regexp) for tag, regexp in _BaseLoader.yaml_implicit_resolvers.get("<", [])]
    resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {"<": merge}
    for tag, pattern, first_chars in CORE_RESOLVERS:
        regexp = re.compile(rf"^(?:{pattern})$")
        for first in [*first_chars, ""] if tag == NULL_TAG else first_chars:
            resolvers.setdefault(first, []).append((tag, regexp))
    return resolvers


Yaml12Loader.yaml_implicit_resolvers = _core_resolvers()


def _construct_int(loader: Yaml12Loader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)  # explicit `!!int` gets the same rules


def _construct_float(loader: Yaml12Loader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    special = text.lstrip("+-").lower()
    if special in (".inf", ".nan"):
        value = math.inf if special == ".inf" else math.nan
        return -value if text.startswith("-") else value
    return float(text)


def _construct_mapping(loader: Yaml12Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    mapping.flow = bool(node.flow_style)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
        mapping[key] = loader.construct_object(value_node, deep=True)
        if isinstance(key, str):
            mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_CORE_SCALAR_TAGS = frozenset({NULL_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG})
_FLATTENED_KEY_TAGS = frozenset({MERGE_TAG, "tag:yaml.org,2002:value"})
Yaml12Loader.add_constructor(INT_TAG, _construct_int)
Yaml12Loader.add_constructor(FLOAT_TAG, _construct_float)
Yaml12Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def plain(value: Any) -> Any:
    """Line-annotated containers -> plain dicts and lists: what a loaded suite keeps (the
    lines matter only while its file is checked)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def load_yaml(text: str, *, lines: bool = True) -> Any:
    """Parse one YAML (or JSON) document; without `lines`, see the module's docstring."""
    loader = Yaml12Loader if lines else _TopLinesLoader
    try:
        with gc_paused():
            return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        line = mark.line + 1 if mark else None
        lines = text.splitlines()
        bad_line = lines[line - 1] if line and line <= len(lines) else ""
        if "\t" in bad_line:
            problem += " (a tab: YAML indents with spaces only)"
        raise YamlError(problem, line) from None
    except (yaml.YAMLError, ValueError) as exc:
        raise YamlError(str(exc), None) from None
