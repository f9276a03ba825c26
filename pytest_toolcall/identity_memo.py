"""Memoising on the identity of schema and tools objects.

Thousands of cases share the same few tools tuples and schema objects, and what is worked
out from one (a validator, a compiled check, a view through `$ref`) is the same every
time. These objects are mappings (unhashable, and equal copies may be different objects
in other caches), so the key is their `id()`; each entry holds the objects themselves,
so an id is never reused while its entry stands.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

Result = TypeVar("Result")


def by_identity(function: Callable[..., Result]) -> Callable[..., Result]:
    """`function(obj, *rest, **named)` worked out once per identity of `obj` and the values
    of the rest (which must be hashable)."""
    known: dict[Any, tuple[Any, Result]] = {}

    @functools.wraps(function)
    def once(first: Any, *rest: Any, **named: Any) -> Result:
        key = (id(first), *rest, *named.items()) if rest or named else id(first)
        entry = known.get(key)
        if entry is None or entry[0] is not first:
            entry = known[key] = (first, function(first, *rest, **named))
        return entry[1]

    return once


def by_identity_pair(function: Callable[..., Result]) -> Callable[..., Result]:
    """`function(a, b, *rest, **named)` worked out once per identities of `a` and `b` and
    the values of the rest. (Written out beside `by_identity`: both run on hot paths.)"""
    known: dict[Any, tuple[Any, Any, Result]] = {}

    @functools.wraps(function)
    def once(first: Any, second: Any, *rest: Any, **named: Any) -> Result:
        key = (id(first), id(second), *rest, *named.items())
        entry = known.get(key)
        if entry is None or entry[0] is not first or entry[1] is not second:
            entry = known[key] = (first, second, function(first, second, *rest, **named))
        return entry[2]

    return once
