"""Short, terminal-safe renderings of values and expectations for verdict details."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pytest_toolcall.judge.values import ABSENT, OPERATORS, Diff, is_operator

MAX_VALUE_CHARS = 80
MAX_DETAIL_CHARS = 240


def clip(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """`text`, cut to `limit` characters with '...' when longer."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str) -> str:
    """`text` with control characters escaped, so a model can't drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def show(value: Any, depth: int = 0) -> str:
    """A short YAML-like rendering: 'text', 30, true, null, [1, 2], {mode: 'photo'}."""
    if isinstance(value, str):
        return clip(repr(value[:MAX_VALUE_CHARS]))
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, Mapping | list) and depth > 2:
        return "..."
    if isinstance(value, Mapping):
        shown = (f"{key}: {show(item, depth + 1)}" for key, item in list(value.items())[:40])
        return clip("{" + ", ".join(shown) + "}")
    if isinstance(value, list):
        return clip("[" + ", ".join(show(item, depth + 1) for item in value[:40]) + "]")
    return clip(repr(value))


def describe(expected: Any) -> str:
    """What an expected value accepts, in words: "one of 'on', 'blink'"."""
    if not is_operator(expected):
        return show(expected)
    words = []
    for key, operand in expected.items():
        shown = ", ".join(map(describe, operand)) if key == "$one_of" else show(operand)
        words.append(OPERATORS[key].wording.format(shown) if key in OPERATORS else f"{key} {shown}")
    return " and ".join(words)


def format_diff(diff: Diff) -> str:
    """One line: where the value differs, what was expected and what came."""
    if diff.actual is ABSENT:
        return f"{diff.path}: missing (expected {describe(diff.expected)})"
    return f"{diff.path}: expected {describe(diff.expected)}, got {show(diff.actual)}"


def detail(text: str) -> str:
    """A verdict's detail: printable and at most MAX_DETAIL_CHARS long."""
    return clip(printable(text), MAX_DETAIL_CHARS)
