"""What a case file's MCP servers listed, kept next to its cassettes so replay needs no server.

`<case dir>/cassettes/mcp/<file stem>.tools.json` holds, per server (its command or URL),
the tools it listed. Replay reads it; recording lists every server again, rewrites the
file and says what changed since (tools added, removed, schema or description changed).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_toolcall.atomic_write import write_atomic
from pytest_toolcall.collect import reads
from pytest_toolcall.collect.errors import Problem
from pytest_toolcall.collect.mcp_tools import McpServer
from pytest_toolcall.collect.tools import ToolsError

SNAPSHOT_FORMAT = 1
KEPT_FIELDS = ("name", "title", "description", "inputSchema")
MAX_SHOWN_PATHS = 3
HOW_TO_LIST = "--record-mode=once"


class McpToolsChanged(UserWarning):
    """A recording run found that an MCP server lists other tools than its snapshot."""


def snapshot_path(case_file: Path) -> Path:
    """`<case dir>/cassettes/mcp/<file stem>.tools.json`."""
    return case_file.parent / "cassettes" / "mcp" / f"{case_file.stem}.tools.json"


def kept(tool: Mapping[str, Any]) -> dict[str, Any]:
    """What a snapshot keeps of a listed tool: what the model is shown."""
    title = tool.get("title") or (tool.get("annotations") or {}).get("title")
    fields = {**tool, "title": title}
    return {key: fields[key] for key in KEPT_FIELDS if fields.get(key) is not None}


class McpSnapshots:
    """The MCP listings of one case file: from its snapshot, or (`relist`) from the servers."""

    def __init__(self, case_file: Path, relist: bool) -> None:
        self.case_file, self.relist = case_file, relist
        self.path = snapshot_path(case_file)
        self._listed: dict[str, tuple[McpServer, list[dict[str, Any]]]] = {}
        self._failed = False
        self._saved: dict[str, list[dict[str, Any]]] | None = None
        self._lines: dict[str, int] = {}  # server key -> the line naming it first

    def tools_of(self, server: McpServer, line: int | None = None) -> list[dict[str, Any]]:
        """The tools `server` (named on `line`) lists: asked once per file when relisting,
        else read from the snapshot."""
        self._lines.setdefault(server.key, line or 1)
        if server.key in self._listed:
            return self._listed[server.key][1]
        if not self.relist:
            saved = self._read_saved(strict=True)
            if server.key not in saved:
                raise ToolsError(
                    f"no snapshot of the tools of MCP server {server.describe()} in "
                    f"{self.path}: list them once with {HOW_TO_LIST} (this starts the server)"
                )
            return saved[server.key]
        from pytest_toolcall.collect.mcp_listing import ListingError, list_server_tools

        try:
            tools = [kept(tool) for tool in list_server_tools(server)]
        except ListingError as exc:
            self._failed = True
            raise ToolsError(str(exc)) from None
        self._listed[server.key] = (server, tools)
        return tools

    def finish(self) -> list[Problem]:
        """After a recording run's listings: rewrite the snapshot, say what changed."""
        if not self.relist or self._failed or not self._listed:
            return []
        before = self._read_saved(strict=False)
        document = {
            "pytest_toolcall": {"mcp_tools_snapshot": SNAPSHOT_FORMAT},
            "servers": [
                {**_origin(server), "tools": tools} for server, tools in self._listed.values()
            ],
        }
        try:
            write_atomic(self.path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        except OSError as exc:
            return [Problem(f"cannot write the MCP tools snapshot {self.path}: {exc}")]
        problems = []
        for key, (server, tools) in self._listed.items():
            if key in before and (changed := list(changes_between(before[key], tools))):
                message = (
                    f"MCP tools changed since {self.path.name}: "
                    f"{server.describe()}: {'; '.join(changed)}"
                )
                line = self._lines[key]
                try:  # shown in pytest's warnings summary at the case file's line
                    warnings.warn_explicit(message, McpToolsChanged, str(self.case_file), line)
                except McpToolsChanged:  # warnings are errors here (-W error): say it as one
                    problems.append(Problem(message, line=line))
        return problems

    def _read_saved(self, strict: bool) -> dict[str, list[dict[str, Any]]]:
        """Server key -> its listed tools; {} without a snapshot (or, not strict, a bad one)."""
        if self._saved is not None:
            return self._saved
        try:
            document = json.loads(reads.read_text(self.path))
            saved = {_key(entry): list(entry["tools"]) for entry in document["servers"]}
        except FileNotFoundError:
            saved = {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if strict:
                raise ToolsError(
                    f"MCP tools snapshot {self.path} cannot be read ({type(exc).__name__}: {exc}):"
                    f" list the servers again with {HOW_TO_LIST}"
                ) from None
            saved = {}
        self._saved = saved
        return saved


def changes_between(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> Iterator[str]:
    """'added x', 'removed y', 'schema changed: z (properties.unit.enum)', ... (MCP names)."""
    old = {tool["name"]: tool for tool in before}
    new = {tool["name"]: tool for tool in after}
    if added := [name for name in new if name not in old]:
        yield "added " + ", ".join(added)
    if removed := [name for name in old if name not in new]:
        yield "removed " + ", ".join(removed)
    schema = [
        f"{name} ({', '.join(paths)})"
        for name in new
        if name in old
        and (paths := list(differences(old[name].get("inputSchema"), new[name].get("inputSchema"))))
    ]
    if schema:
        yield "schema changed: " + ", ".join(schema)
    described = [
        name
        for name in new
        if name in old
        and (old[name].get("description"), old[name].get("title"))
        != (new[name].get("description"), new[name].get("title"))
    ]
    if described:
        yield "description changed: " + ", ".join(described)


def differences(old: Any, new: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Up to MAX_SHOWN_PATHS dotted paths where two JSON values differ (then '...')."""
    for found, where in enumerate(_differing(old, new, path)):
        if found == MAX_SHOWN_PATHS:
            yield "..."
            return
        yield where


def _differing(old: Any, new: Any, path: tuple[str, ...]) -> Iterator[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            if old.get(key, _MISSING) != new.get(key, _MISSING):
                yield from _differing(old.get(key, _MISSING), new.get(key, _MISSING), (*path, key))
        return
    if old != new:
        yield ".".join(path) or "the whole schema"


_MISSING = object()


def _origin(server: McpServer) -> dict[str, Any]:
    return (
        {"url": server.url} if server.url is not None else {"command": list(server.command or ())}
    )


def _key(entry: Mapping[str, Any]) -> str:
    if "url" in entry:
        return McpServer(url=entry["url"]).key
    return McpServer(command=tuple(entry["command"])).key
