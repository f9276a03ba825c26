"""YAML 1.2-style loading with line numbers and duplicate-key detection.

PyYAML follows YAML 1.1, where `on`, `off`, `yes` and `no` are booleans; the drone tools
have `on`/`off` enums, so only `true`/`false` are booleans here. Mappings come back as
`LineDict`, which remembers where they (and each key) started, for error messages.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # type: ignore[assignment]


class YamlError(Exception):
    """A YAML document that does not parse, with the 1-based line of the problem."""

    def __init__(self, problem: str, line: int | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


class LineDict(dict):
    """A mapping that knows its own line and the line of each key."""

    line: int
    key_lines: dict[str, int]


class _Yaml12Loader(_Loader):  # type: ignore[misc,valid-type]
    """Safe loader with YAML 1.2 booleans, line-annotated mappings and no duplicate keys."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _Yaml12Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
        mapping[key] = loader.construct_object(value_node, deep=True)
        if isinstance(key, str):
            mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_Yaml12Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> Any:
    """Parse one YAML (or JSON) document."""
    try:
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        line = mark.line + 1 if mark else None
        lines = text.splitlines()
        bad_line = lines[line - 1] if line and line <= len(lines) else ""
        if "\t" in bad_line:
            problem += " (a tab: YAML indents with spaces only)"
        raise YamlError(problem, line) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc), None) from None
