"""Every call to write prompts for, enumerated from tool schemas without a model.

Tools in name order, for each the product of its parameters' options: every `enum` value,
both booleans, or a free value (integer, string, object, ...) that the model fills in; an
optional parameter is also absent. `max_per_tool` keeps a seeded random sample, in order.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_toolcall.datagen.generation_inputs import GenerateError

MAX_INVOCATIONS_PER_TOOL = 100_000  # without --max-per-tool


@dataclass(frozen=True)
class Free:
    """A value the model fills in; `schema` is the parameter's JSON Schema."""

    schema: Mapping[str, Any] = field(hash=False)


_ABSENT: Any = object()  # an optional parameter left out


@dataclass(frozen=True)
class Invocation:
    """One call to generate prompts for: concrete values, or `Free` for the model to fill."""

    tool: str
    args: Mapping[str, Any]
    slug: str

    @property
    def free(self) -> list[str]:
        return [name for name, value in self.args.items() if isinstance(value, Free)]


def tool_name(tool: Mapping[str, Any]) -> str:
    return tool["function"]["name"]


def tool_parameters(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    return tool["function"].get("parameters") or {"type": "object", "properties": {}}


def parameter_options(schema: Mapping[str, Any], required: bool) -> list[Any]:
    """Every value a parameter takes in the enumeration (`_ABSENT` when optional)."""
    if "enum" in schema:
        values = list(schema["enum"])
    elif "const" in schema:
        values = [schema["const"]]
    elif schema.get("type") == "boolean":
        values = [True, False]
    else:
        values = [Free(schema)]
    return values if required else [*values, _ABSENT]


def _combination(index: int, options: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
    """The `index`-th element of `itertools.product(*options)`, without building the rest."""
    picked = []
    for values in reversed(options):
        index, position = divmod(index, len(values))
        picked.append(values[position])
    return tuple(reversed(picked))


def _slug_part(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_.") or "_"


def _slug(tool: str, args: Mapping[str, Any]) -> str:
    """`land_drone-home_base`: the tool, enum values, `name-true` for booleans, the names
    of free values; absent parameters leave no trace."""
    parts = [_slug_part(tool)]
    for name, value in args.items():
        if isinstance(value, Free):
            parts.append(_slug_part(name))
        elif isinstance(value, bool):
            parts.append(f"{_slug_part(name)}-{json.dumps(value)}")
        else:
            parts.append(_slug_part(value))
    return "-".join(parts)


def enumerate_invocations(
    tools: Sequence[Mapping[str, Any]],
    *,
    reject_tool: str | None = None,
    max_per_tool: int | None = None,
    seed: int = 0,
) -> list[Invocation]:
    """Every invocation of every tool but `reject_tool`, tools in name order."""
    invocations: list[Invocation] = []
    for tool in sorted(tools, key=tool_name):
        name = tool_name(tool)
        if name == reject_tool:
            continue
        parameters = tool_parameters(tool)
        properties = parameters.get("properties") or {}
        required = set(parameters.get("required") or ())
        names = list(properties)
        options = [parameter_options(properties[n], n in required) for n in names]
        count = math.prod(len(values) for values in options)
        if max_per_tool is not None and count > max_per_tool:
            picked: Iterable[int] = sorted(
                random.Random(f"{seed}:{name}").sample(range(count), max_per_tool)
            )
        elif count > MAX_INVOCATIONS_PER_TOOL:
            raise GenerateError(
                f"tool '{name}' has {count} invocations; cap them with --max-per-tool"
            )
        else:
            picked = range(count)
        seen: set[str] = set()
        for index in picked:
            combo = _combination(index, options)
            args = {n: v for n, v in zip(names, combo, strict=True) if v is not _ABSENT}
            slug = base = _slug(name, args)
            for number in itertools.count(2):
                if slug not in seen:
                    break
                slug = f"{base}.v{number}"
            seen.add(slug)
            invocations.append(Invocation(name, args, slug))
    return invocations
