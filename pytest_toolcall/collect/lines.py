"""Where a key path of a loaded case file is: its line, and the case it is in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def line_at(node: Any, path: Sequence[Any]) -> int | None:
    """The line of the deepest key (or list item) of `path` found under `node`."""
    line = getattr(node, "line", None)
    for part in path:
        try:
            child = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, Mapping):
            line = getattr(node, "key_lines", {}).get(part, line)
        else:
            line = getattr(child, "line", line)
        node = child
    return line


def line_of(mapping: Mapping[str, Any], key: str) -> int | None:
    """The line of `key` in `mapping`, else the mapping's own line."""
    lines = getattr(mapping, "key_lines", {})
    return lines.get(key, getattr(mapping, "line", None))


def case_label(document: Mapping[str, Any], index: int) -> str:
    """How errors name the case at `index`: its id, else '#<1-based position>'."""
    raw = document["cases"][index]
    case_id = raw.get("id") if isinstance(raw, Mapping) else None
    return case_id if isinstance(case_id, str) else f"#{index + 1}"
