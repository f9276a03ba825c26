"""Case files: YAML on disk -> validated, fully resolved `Suite` and `Case` objects.

Everything a user can get wrong in a case file is caught here, before any request, and
reported as one `CaseFileError` listing every problem with its file, line, case and key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pytest_toolcall.collect import reads
from pytest_toolcall.collect.api import api_problems
from pytest_toolcall.collect.errors import CaseFileError, Problem
from pytest_toolcall.collect.expectations import located_expectation_problems
from pytest_toolcall.collect.lines import line_at, line_of
from pytest_toolcall.collect.mcp_snapshot import McpSnapshots
from pytest_toolcall.collect.messages import message_problems
from pytest_toolcall.collect.steps import step_problems
from pytest_toolcall.collect.structure import structure_problems
from pytest_toolcall.collect.tags import tag_problem
from pytest_toolcall.collect.tools import (
    Tools,
    ToolsError,
    resolve_system,
    resolve_tools,
    tool_parameters,
)
from pytest_toolcall.collect.yaml12 import LineDict, LinesNeeded, YamlError, load_yaml, plain
from pytest_toolcall.gc_pause import gc_paused

_Resolved = TypeVar("_Resolved")
MAX_CASEFILE_BYTES = 20_000_000
SLUG_MAX_CHARS = 60


@dataclass(frozen=True)
class Case:
    """One prompt (or conversation) and the tool call(s) the model must produce."""

    id: str
    line: int
    messages: tuple[Mapping[str, Any], ...]
    expect: Mapping[str, Any]
    tags: tuple[str, ...]
    system: str | None
    tools: tuple[Mapping[str, Any], ...]
    tool_choice: str | Mapping[str, str] | None
    params: Mapping[str, Any]
    tool_parameters: Mapping[str, Mapping[str, Any]] = field(repr=False)
    api: str = "chat"  # "chat" (Chat Completions) or "responses"; see collect.api
    tool_results: Mapping[str, Any] = field(default_factory=dict)  # agent cases' scripts

    @property
    def prompt(self) -> str:
        """The last user turn, for summaries."""
        for message in reversed(self.messages):
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                return message["content"]
        return ""


@dataclass(frozen=True)
class Suite:
    """A case file: shared settings and its cases."""

    path: Path
    name: str
    model: str | None
    threshold: float
    tag_thresholds: Mapping[str, float]
    cases: tuple[Case, ...]
    api: str = "chat"  # the file's `api:` (each case may say its own)


def looks_like_case_file(path: Path) -> bool:
    """Whether a YAML file has a top-level `cases:` key, checked without parsing it."""
    try:
        with path.open("rb") as stream:
            head = stream.read(MAX_CASEFILE_BYTES + 1)
    except OSError:
        return False
    return re.search(rb"(?m)^cases[ \t]*:", head) is not None


def relative_path(path: Path, rootdir: Path) -> Path:
    """`path` under `rootdir`, else its bare name."""
    try:
        return path.resolve().relative_to(rootdir.resolve())
    except ValueError:
        return Path(path.name)


def slugify(text: str) -> str:
    """A case id made from a prompt: lowercase words joined by '-'."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:SLUG_MAX_CHARS].rstrip("-") or "case"


@gc_paused()  # (a file's checks build as many long-lived objects as its parsing)
def load_suite(path: Path, rootdir: Path, *, relist_mcp: bool = False) -> Suite:
    """Read, validate and resolve one case file; every problem is raised at once.

    `relist_mcp` (a recording run): ask the file's MCP servers for their tools again and
    rewrite its snapshot; else the tools come from the snapshot, with no server.

    A file is built first from YAML with lines only where a clean file needs them (its
    cases'); one with a problem (or anchors) is built again with every line, so its errors
    say exactly where. A recording run builds once, with every line: it asks servers.
    """
    if not relist_mcp:
        try:
            return _built(path, rootdir, every_line=False, relist_mcp=False)
        except (CaseFileError, LinesNeeded):
            pass  # worded below, with every line known
    return _built(path, rootdir, every_line=True, relist_mcp=relist_mcp)


def _built(path: Path, rootdir: Path, *, every_line: bool, relist_mcp: bool) -> Suite:
    document = _read_document(path, every_line)
    located = structure_problems(document)
    problems = [problem for _, problem in located]
    broken = {
        location[:2] if location[:1] == ("cases",) else location[:1] for location, _ in located
    }
    mcp = McpSnapshots(path, relist_mcp)
    builder = _CaseBuilder(path, document, broken, problems, mcp, every_line=every_line)
    cases = builder.build_all() if "cases" in document and ("cases",) not in broken else []
    problems += builder.mcp.finish()
    tag_thresholds = dict(document.get("thresholds") or {}) if ("thresholds",) not in broken else {}
    used_tags = {tag for case in cases for tag in case.tags}
    for tag in tag_thresholds:
        if tag not in used_tags and not builder.skipped:
            line = line_at(document, ("thresholds", tag))
            problems.append(Problem(f"thresholds: tag '{tag}' is not used by any case", line=line))
    if problems:
        raise CaseFileError.of(path, problems)
    return Suite(
        path=path,
        name=document.get("suite", relative_path(path, rootdir).with_suffix("").as_posix()),
        model=document.get("model"),
        threshold=float(document.get("threshold", 1.0)),
        tag_thresholds=tag_thresholds,
        cases=tuple(cases),
        api=document.get("api", "chat") if ("api",) not in broken else "chat",
    )


def _read_document(path: Path, every_line: bool) -> LineDict:
    size = path.stat().st_size
    if size > MAX_CASEFILE_BYTES:
        raise CaseFileError(
            path,
            f"file is {size / 1e6:.1f} MB; case files are limited to "
            f"{MAX_CASEFILE_BYTES / 1e6:.0f} MB (split it into several suites)",
        )
    raw = reads.read_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CaseFileError(
            path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})", line=line
        ) from None
    try:
        document = load_yaml(text, lines=every_line)
    except YamlError as exc:
        raise CaseFileError(path, f"invalid YAML: {exc.problem}", line=exc.line) from None
    if not isinstance(document, dict):
        raise CaseFileError(path, "the top level must be a mapping with a 'cases:' list")
    return document


class _CaseBuilder:
    """Builds the cases of a schema-checked document, adding what is wrong to `problems`."""

    def __init__(
        self,
        path: Path,
        document: LineDict,
        broken: set[tuple[Any, ...]],
        problems: list[Problem],
        mcp: McpSnapshots | None = None,
        *,
        every_line: bool = True,
    ) -> None:
        self.path, self.document, self.broken, self.problems = path, document, broken, problems
        self.skipped = False  # a case was left out (broken): tag use is not known
        self.mcp = mcp or McpSnapshots(path, relist=False)
        # (without every line, nested values are plain already, built for this load alone)
        self.plain: Callable[[Any], Any] = plain if every_line else _as_built
        self.resolve_tools = partial(resolve_tools, mcp=self.mcp, plain_already=not every_line)
        self.tools = self._resolved(self.resolve_tools, "tools", document)
        self.system = self._resolved(resolve_system, "system", document)

    def _resolved(
        self,
        resolve: Callable[[Path, Any], _Resolved],
        key: str,
        node: Mapping[str, Any],
        case: str | None = None,
    ) -> _Resolved | None:
        """`resolve(path, node[key])`, or None (problem noted) when it cannot be."""
        if (key,) in self.broken and node is self.document:
            return None
        try:
            return resolve(self.path, node.get(key))
        except ToolsError as exc:
            self.problems.append(Problem(str(exc), case, line_of(node, key)))
            return None

    def build_all(self) -> list[Case]:
        cases: list[Case] = []
        first_line_of: dict[str, int] = {}
        for index, raw in enumerate(self.document["cases"]):
            if ("cases", index) in self.broken:
                self.skipped = True
                continue
            case_id = raw.get("id") or slugify(
                raw.get("prompt") or _last_user_text(raw["messages"])
            )
            line = getattr(raw, "line", 0)
            if case_id in first_line_of:
                hint = "" if raw.get("id") else " (its id comes from the prompt; give it an 'id')"
                text = f"duplicate id, first used on line {first_line_of[case_id]}{hint}"
                self.problems.append(Problem(text, case_id, line))
                continue
            first_line_of[case_id] = line
            case = self._build(raw, case_id, line)
            if case is None:
                self.skipped = True
            else:
                cases.append(case)
        return cases

    def _build(self, raw: LineDict, case_id: str, line: int) -> Case | None:
        """The case, or None when it has problems (noted)."""
        before = len(self.problems)
        own_tools = "tools" in raw
        tools: Tools | None = (
            self._resolved(self.resolve_tools, "tools", raw, case_id) if own_tools else self.tools
        )
        system = (
            self._resolved(resolve_system, "system", raw, case_id)
            if "system" in raw
            else self.system
        )
        parameters = tool_parameters(tools) if tools is not None else None
        found: list[tuple[tuple[Any, ...], str]] = []
        results = {**self.document.get("tool_results", {}), **raw.get("tool_results", {})}
        if parameters is not None:
            found += [
                (p.path, p.text) for p in located_expectation_problems(raw["expect"], parameters)
            ]
            found += [(p.path, p.text) for p in step_problems(raw["expect"], results, parameters)]
        if "messages" in raw:
            found += list(
                message_problems(raw["messages"], None if parameters is None else list(parameters))
            )
        found += [(("tags",), text) for tag in raw.get("tags", ()) if (text := tag_problem(tag))]
        api = raw.get("api", self.document.get("api", "chat"))
        params = {**self.document.get("params", {}), **raw.get("params", {})}
        # (a param of the file's own is named once, not once per case)
        self.problems += [
            p
            for p in api_problems(api, params, raw, self.document, case_id)
            if p not in self.problems
        ]
        self.problems += [Problem(text, case_id, line_at(raw, where)) for where, text in found]
        if len(self.problems) > before or parameters is None:
            return None
        messages = raw.get("messages") or [{"role": "user", "content": raw["prompt"]}]
        return Case(
            id=case_id,
            line=line,
            messages=tuple(self.plain(message) for message in messages),
            expect=self.plain(raw["expect"]),
            tags=tuple(raw.get("tags", ())),
            system=system,
            tools=tools,
            tool_choice=self.plain(raw.get("tool_choice", self.document.get("tool_choice"))),
            params=params,
            tool_parameters=parameters,
            api=api,
            tool_results=self.plain(results),
        )


def _as_built(value: Any) -> Any:
    return value


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    user_texts = [m.get("content") for m in messages if m.get("role") == "user"]
    return next((t for t in reversed(user_texts) if isinstance(t, str)), "case")


__all__ = [
    "Case",
    "CaseFileError",
    "Suite",
    "load_suite",
    "looks_like_case_file",
    "relative_path",
    "slugify",
]
