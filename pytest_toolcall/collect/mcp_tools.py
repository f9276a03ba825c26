"""`tools: {mcp: ...}`: the tools an MCP server lists, as Chat Completions function tools.

An MCP tool becomes `{"type": "function", "function": {name, description, parameters}}`:
its description (else its title), its `inputSchema` as `parameters` (`$schema` dropped),
its name made valid for the API (prefixed, characters outside `[a-zA-Z0-9_-]` replaced,
a long name shortened with a hash) and mapped back to the server's name. Two tools that
end up with one name are an error: the model could not tell them apart.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_toolcall.collect.tools import ToolsError

if TYPE_CHECKING:
    from pytest_toolcall.collect.mcp_snapshot import McpSnapshots

API_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_NOT_API = re.compile(r"[^a-zA-Z0-9_-]")
API_NAME_MAX = 64
NAME_HASH_HEX = 8
DEFAULT_TIMEOUT_S = 30.0
PYTHON_NAMES = ("python", "python3")  # the interpreter running pytest, as in a venv


@dataclass(frozen=True)
class McpServer:
    """One `mcp:` mapping: how to reach the server, and how its tools are named."""

    command: tuple[str, ...] | None = None
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    prefix: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def key(self) -> str:
        """What names this server in a snapshot: its command or URL (never its env: secrets)."""
        return self.url if self.url is not None else shlex.join(self.command or ())

    def describe(self) -> str:
        return f"`{self.key}`"

    @property
    def spawned(self) -> tuple[str, ...]:
        """The command as run: `python` is the interpreter running pytest."""
        command = self.command or ()
        if command and command[0] in PYTHON_NAMES:
            return (sys.executable, *command[1:])
        return command


def parse_server(case_file: Path, raw: Mapping[str, Any]) -> McpServer:
    """A (schema-checked) `mcp:` mapping -> `McpServer`; `cwd` is relative to the case file."""
    base = case_file.parent
    cwd = base / raw["cwd"] if raw.get("cwd") else base
    return McpServer(
        command=tuple(str(part) for part in raw["command"]) if "command" in raw else None,
        url=raw.get("url"),
        env={str(k): os.path.expandvars(str(v)) for k, v in (raw.get("env") or {}).items()},
        cwd=cwd if "command" in raw else None,
        prefix=raw.get("prefix", ""),
        timeout_s=float(raw.get("timeout", DEFAULT_TIMEOUT_S)),
    )


def api_name(prefix: str, name: str) -> str:
    """`prefix + name` valid for the API: other characters become `_`; too long, hashed."""
    candidate = prefix + name
    if API_NAME.match(candidate):
        return candidate
    cleaned = _NOT_API.sub("_", candidate) or "_"
    if len(cleaned) > API_NAME_MAX:
        digest = hashlib.sha256(candidate.encode("utf-8", "surrogatepass")).hexdigest()
        cleaned = f"{cleaned[: API_NAME_MAX - NAME_HASH_HEX - 1]}_{digest[:NAME_HASH_HEX]}"
    return cleaned


def function_tool(name: str, listed: Mapping[str, Any]) -> dict[str, Any]:
    """One listed MCP tool as a function tool named `name`."""
    parameters = dict(listed.get("inputSchema") or {"type": "object"})
    parameters.pop("$schema", None)
    function: dict[str, Any] = {"name": name}
    description = listed.get("description") or listed.get("title")
    if description:
        function["description"] = description
    function["parameters"] = parameters
    return {"type": "function", "function": function}


@dataclass
class MappedTools:
    """Function tools from one or more servers, and API name -> (server, MCP tool name)."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    original: dict[str, tuple[McpServer, str]] = field(default_factory=dict)

    def add(self, server: McpServer, listing: Sequence[Mapping[str, Any]]) -> None:
        for listed in listing:
            name = api_name(server.prefix, listed["name"])
            if name in self.original:
                other_server, other = self.original[name]
                where = "" if other_server == server else f" of {other_server.describe()}"
                raise ToolsError(
                    f"MCP tools '{other}'{where} and '{listed['name']}' of {server.describe()} "
                    f"both become the API tool name '{name}' (names must match "
                    f"{API_NAME.pattern}): give a server a 'prefix:' or rename a tool"
                )
            self.original[name] = (server, listed["name"])
            self.tools.append(function_tool(name, listed))


def resolve_mcp_tools(
    case_file: Path, value: Mapping[str, Any] | Sequence[Mapping[str, Any]], snapshots: McpSnapshots
) -> list[dict[str, Any]]:
    """`tools: {mcp: ...}` (one server, or a list of them) -> function tools."""
    raws = [value] if isinstance(value, Mapping) else list(value)
    mapped = MappedTools()
    for raw in raws:
        server = parse_server(case_file, raw)
        mapped.add(server, snapshots.tools_of(server, getattr(raw, "line", None)))
    return mapped.tools
