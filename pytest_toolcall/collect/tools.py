"""A suite's (or a case's) tools and system prompt: inline, or read from a file."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_toolcall.collect import reads
from pytest_toolcall.collect.expectations import dotted
from pytest_toolcall.collect.metaschema import parameters_error
from pytest_toolcall.collect.structure import inlined_schema
from pytest_toolcall.collect.tool_formats import chat_tools
from pytest_toolcall.collect.yaml12 import YamlError, load_yaml, plain
from pytest_toolcall.identity_memo import by_identity
from pytest_toolcall.judge.fastvalid import Check, check_or_none

if TYPE_CHECKING:
    from pytest_toolcall.collect.mcp_snapshot import McpSnapshots

PROMPT_FILE_SUFFIXES = (".txt", ".md", ".prompt")
Tools = tuple[Mapping[str, Any], ...]


class ToolsError(Exception):
    """Tools or a system prompt that cannot be used; the message says why."""


def resolve_system(path: Path, value: str | None) -> str | None:
    """Inline text, or the contents of a file relative to the case file."""
    if value is None or "\n" in value.strip():
        return value
    candidate = path.parent / value.strip()
    if reads.is_file(candidate):
        return reads.read_text(candidate)
    if value.strip().endswith(PROMPT_FILE_SUFFIXES):
        raise ToolsError(f"system prompt file not found: {candidate}")
    return value


def resolve_tools(
    path: Path,
    value: str | list[Any] | Mapping[str, Any] | None,
    mcp: McpSnapshots | None = None,
    *,
    plain_already: bool = False,
) -> Tools:
    """An inline tools list, one read from a JSON/YAML file relative to the case file, or
    (`{mcp: ...}`) the tools an MCP server lists, through the file's `mcp` snapshots.
    `plain_already`: an inline list is plain dicts built for this load alone (it may be
    kept and changed as it is, not copied)."""
    if value is None:
        return ()
    if isinstance(value, Mapping) and "mcp" in value:
        from pytest_toolcall.collect.mcp_snapshot import McpSnapshots
        from pytest_toolcall.collect.mcp_tools import resolve_mcp_tools

        listed = resolve_mcp_tools(path, value["mcp"], mcp or McpSnapshots(path, relist=False))
        if problem := tools_problem(listed):
            raise ToolsError(problem)
        return tuple(listed)
    if isinstance(value, list):
        tools, problem = _checked_inline(value, plain_already)
    else:
        tools_path = path.parent / value
        if not reads.is_file(tools_path):
            raise ToolsError(f"tools file not found: {tools_path}")
        tools, problem = _read_tools_file(tools_path, reads.read_bytes(tools_path))
    if problem:
        raise ToolsError(problem)
    return tools


def _tools_file_problem(tools: Any) -> str | None:
    """What is wrong with a tools file's list, as jsonschema words it (None: nothing)."""
    fine = _tools_list_check()
    if fine is not None and fine(tools):
        return None
    import jsonschema

    validator = jsonschema.Draft202012Validator(_tools_list_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(tools))
    if error is None:
        return None
    return f"{dotted(error.absolute_path) or 'top level'}: {error.message}"


def _tools_list_schema() -> dict[str, Any]:
    return inlined_schema("tools")["anyOf"][1]  # its list form (not a path, not MCP)


@cache
def _tools_list_check() -> Check | None:
    return check_or_none(_tools_list_schema())


@cache
def _read_tools_file(tools_path: Path, data: bytes) -> tuple[Tools, str | None]:
    """Parse and check a tools file once per content (suites usually share one; keyed by
    its bytes, never its mtime, so an edited file is read again): (tools, problem)."""
    try:
        text = reads.text_of(data)
        tools = load_yaml(text)
    except (YamlError, UnicodeDecodeError) as exc:
        problem = getattr(exc, "problem", str(exc))
        return (), f"tools file {tools_path} is not valid JSON/YAML: {problem}"
    if (problem := _tools_file_problem(tools)) is not None:
        return (), f"tools file {tools_path}: {problem}"
    normalised = chat_tools(plain(tools))  # either API's form -> the internal (Chat) one
    return normalised, tools_problem(normalised)


# repr digest of an inline list -> (its tools, problem): cases repeating a list share one
_INLINE_CHECKED: dict[bytes, tuple[Tools, str | None]] = {}
# repr digest of a tool's parameters -> the first such schema: cases whose tools differ
# (a description, a neighbour) but declare equal parameters share one schema object
_SHARED_PARAMETERS: dict[bytes, Any] = {}


def _digest(value: Any) -> bytes:
    """What tells equal YAML values apart from unequal ones (`repr` tells 1, 1.0, True and
    '1' apart), in 16 bytes."""
    return hashlib.blake2b(repr(value).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _checked_inline(value: list[Any], plain_already: bool = False) -> tuple[Tools, str | None]:
    """An inline list in internal form and its problem, checked once per distinct content;
    equal lists get the very same tuple, and equal parameters the very same schema (what
    is worked out from a schema, its check and its validator, is then worked out once)."""
    key = _digest(value)
    known = _INLINE_CHECKED.get(key)
    if known is None:
        tools = chat_tools(value if plain_already else plain(value))  # -> the internal form
        for tool in tools:
            function = tool["function"]
            if isinstance(function.get("parameters"), dict):
                parameters = function["parameters"]  # (a copy, or built for this load)
                shared = _SHARED_PARAMETERS.setdefault(_digest(parameters), parameters)
                function["parameters"] = shared
        known = _INLINE_CHECKED[key] = (tools, tools_problem(tools))
    return known


def tools_problem(tools: Sequence[Mapping[str, Any]]) -> str | None:
    """Why a (structurally valid) tools list cannot be used, or None."""
    seen: set[str] = set()
    for tool in tools:
        name = tool["function"]["name"]
        if name in seen:
            return f"tool '{name}' is defined twice"
        seen.add(name)
        parameters = tool["function"].get("parameters", {})
        error = _parameters_error(parameters)  # jsonschema's check_schema, fast where it can be
        if error is not None:
            where = dotted(error.absolute_path) or "parameters"
            why = f"{where}: {error.message}"
            return f"tool '{name}': parameters is not a valid JSON Schema ({why})"
    return None


_parameters_error = by_identity(parameters_error)  # (shared schemas are checked once)


@by_identity
def tool_parameters(tools: Tools) -> Mapping[str, Mapping[str, Any]]:
    """Tool name -> its JSON Schema `parameters` (an empty object schema when absent);
    one mapping per tools tuple, which every case sharing it shares."""
    return {
        tool["function"]["name"]: tool["function"].get("parameters", {"type": "object"})
        for tool in tools
    }
