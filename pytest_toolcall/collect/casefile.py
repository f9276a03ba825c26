"""Case files: YAML on disk -> validated, fully resolved `Suite` and `Case` objects.

Everything a user can get wrong in a case file is caught here, before any request, and
reported as a `CaseFileError` that names the file, the line, the case and the problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from pytest_toolcall.collect.expectations import expectation_problems
from pytest_toolcall.collect.yaml12 import LineDict, YamlError, load_yaml

MAX_CASEFILE_BYTES = 20_000_000
PROMPT_FILE_SUFFIXES = (".txt", ".md", ".prompt")
SLUG_MAX_CHARS = 60


class CaseFileError(Exception):
    """A case file that cannot be run, with where and why."""

    def __init__(
        self, path: Path, problem: str, *, case: str | None = None, line: int | None = None
    ) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem
        self.case = case
        self.line = line

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        case = f"case '{self.case}': " if self.case else ""
        return f"{where}: {case}{self.problem}"


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


def looks_like_case_file(path: Path) -> bool:
    """Whether a YAML file has a top-level `cases:` key, checked without parsing it."""
    try:
        with path.open("rb") as stream:
            head = stream.read(MAX_CASEFILE_BYTES + 1)
    except OSError:
        return False
    return re.search(rb"(?m)^cases[ \t]*:", head) is not None


def load_suite(path: Path, rootdir: Path) -> Suite:
    """Read, validate and resolve one case file."""
    document = _read_document(path)
    _validate_structure(path, document)
    default_name = relative_path(path, rootdir).with_suffix("").as_posix()
    suite_tools = _resolve_tools(path, document.get("tools"), line=_line_of(document, "tools"))
    suite_system = _resolve_system(path, document.get("system"), line=_line_of(document, "system"))
    cases = _build_cases(path, document, suite_tools, suite_system)
    tag_thresholds = dict(document.get("thresholds", {}))
    used_tags = {tag for case in cases for tag in case.tags}
    for tag in tag_thresholds:
        if tag not in used_tags:
            raise CaseFileError(
                path,
                f"thresholds: tag '{tag}' is not used by any case",
                line=_line_of(document, "thresholds"),
            )
    return Suite(
        path=path,
        name=document.get("suite", default_name),
        model=document.get("model"),
        threshold=float(document.get("threshold", 1.0)),
        tag_thresholds=tag_thresholds,
        cases=tuple(cases),
    )


def _read_document(path: Path) -> LineDict:
    size = path.stat().st_size
    if size > MAX_CASEFILE_BYTES:
        raise CaseFileError(
            path,
            f"file is {size / 1e6:.1f} MB; case files are limited to "
            f"{MAX_CASEFILE_BYTES / 1e6:.0f} MB (split it into several suites)",
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CaseFileError(
            path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})", line=line
        ) from None
    try:
        document = load_yaml(text)
    except YamlError as exc:
        raise CaseFileError(path, f"invalid YAML: {exc.problem}", line=exc.line) from None
    if not isinstance(document, dict):
        raise CaseFileError(path, "the top level must be a mapping with a 'cases:' list")
    return document


@cache
def casefile_schema() -> dict[str, Any]:
    """The case-file JSON Schema shipped in the package (also what editors use)."""
    schema_text = resources.files("pytest_toolcall").joinpath("schema/casefile.schema.json")
    return json.loads(schema_text.read_text(encoding="utf-8"))


@cache
def _casefile_validator() -> jsonschema.protocols.Validator:
    # Local $refs inlined: resolving thousands of them per file was a third of collection.
    schema = casefile_schema()
    return jsonschema.Draft202012Validator(_inline_refs(schema, schema["$defs"]))


def _inline_refs(node: Any, definitions: Mapping[str, Any]) -> Any:
    """`node` with every `{"$ref": "#/$defs/x"}` replaced by (a copy of) definition x."""
    if isinstance(node, list):
        return [_inline_refs(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return {**_inline_refs(definitions[ref.removeprefix("#/$defs/")], definitions), **rest}
    return {key: _inline_refs(value, definitions) for key, value in node.items() if key != "$defs"}


@cache
def _tools_file_validator() -> jsonschema.protocols.Validator:
    definitions = casefile_schema()["$defs"]
    tools_list = _inline_refs(definitions["tools"]["anyOf"][1], definitions)
    return jsonschema.Draft202012Validator(tools_list)


def _validate_structure(path: Path, document: LineDict) -> None:
    errors = sorted(
        _casefile_validator().iter_errors(document), key=lambda e: [str(p) for p in e.path]
    )
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    location = list(error.absolute_path)
    case_id, line = _locate(document, location)
    raise CaseFileError(path, _describe_schema_error(error), case=case_id, line=line)


def _describe_schema_error(error: jsonschema.ValidationError) -> str:
    """Turn a jsonschema error into one sentence a case-file author understands."""
    where = _dotted(error.absolute_path) or "top level"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        known = ", ".join(sorted(error.schema.get("properties", {})))
        return f"{where}: unknown key {', '.join(map(repr, extra))} (known: {known})"
    if error.validator == "anyOf" and list(error.absolute_path)[-1:] == ["expect"]:
        return f"{where}: must be one of {{tool, args, exact}}, {{calls: [...]}}, "
        "{no_call: true} or {any_of: [...]}"
    if error.validator == "oneOf" and error.schema.get("oneOf", [{}])[0].get("required") == [
        "prompt"
    ]:
        has_both = "prompt" in error.instance and "messages" in error.instance
        return f"{where}: " + (
            "give either 'prompt' or 'messages', not both"
            if has_both
            else "no 'prompt' or 'messages'"
        )
    if error.validator == "not" and error.instance == "gate":
        return f"{where}: 'gate' is reserved for the suite's gate item"
    if error.validator == "pattern" and where.endswith(".id"):
        return f"{where}: {error.instance!r} must be letters, digits, '-', '_' or '.'"
    return f"{where}: {error.message}"


def _dotted(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _locate(document: LineDict, location: Sequence[Any]) -> tuple[str | None, int | None]:
    """The case id and line that an error path points into."""
    line = getattr(document, "line", None)
    case_id = None
    node: Any = document
    for index, part in enumerate(location):
        try:
            child = node[part]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(child, "line", getattr(node, "key_lines", {}).get(part, line))
        node = child
        if index == 1 and location[0] == "cases" and isinstance(node, dict):
            case_id = node.get("id") if isinstance(node.get("id"), str) else f"#{part + 1}"
    return case_id, line


def _line_of(mapping: Mapping[str, Any], key: str) -> int | None:
    lines = getattr(mapping, "key_lines", {})
    return lines.get(key, getattr(mapping, "line", None))


def relative_path(path: Path, rootdir: Path) -> Path:
    try:
        return path.resolve().relative_to(rootdir.resolve())
    except ValueError:
        return Path(path.name)


def _resolve_system(path: Path, value: str | None, *, line: int | None) -> str | None:
    """Inline text, or the contents of a file relative to the case file."""
    if value is None or "\n" in value.strip():
        return value
    candidate = path.parent / value.strip()
    if candidate.is_file():
        return candidate.read_text(encoding="utf-8")
    if value.strip().endswith(PROMPT_FILE_SUFFIXES):
        raise CaseFileError(path, f"system prompt file not found: {candidate}", line=line)
    return value


def _resolve_tools(
    path: Path, value: str | list[Any] | None, *, line: int | None
) -> tuple[Mapping[str, Any], ...]:
    """An inline tools list, or one read from a JSON/YAML file relative to the case file."""
    if value is None:
        return ()
    if isinstance(value, list):
        tools, problem = tuple(value), _tools_problem(value)
    else:
        tools_path = path.parent / value
        if not tools_path.is_file():
            raise CaseFileError(path, f"tools file not found: {tools_path}", line=line)
        tools, problem = _read_tools_file(tools_path, tools_path.stat().st_mtime_ns)
    if problem:
        raise CaseFileError(path, problem, line=line)
    return tools


@cache
def _read_tools_file(
    tools_path: Path, mtime_ns: int
) -> tuple[tuple[Mapping[str, Any], ...], str | None]:
    """Read and check a tools file once per run (suites usually share one): (tools, problem)."""
    try:
        tools = load_yaml(tools_path.read_text(encoding="utf-8"))
    except (YamlError, UnicodeDecodeError) as exc:
        problem = getattr(exc, "problem", str(exc))
        return (), f"tools file {tools_path} is not valid JSON/YAML: {problem}"
    error = jsonschema.exceptions.best_match(_tools_file_validator().iter_errors(tools))
    if error is not None:
        where = _dotted(error.absolute_path) or "top level"
        return (), f"tools file {tools_path}: {where}: {error.message}"
    return tuple(tools), _tools_problem(tools)


def _tools_problem(tools: Sequence[Mapping[str, Any]]) -> str | None:
    """Why a (structurally valid) tools list cannot be used, or None."""
    seen: set[str] = set()
    for tool in tools:
        name = tool["function"]["name"]
        if name in seen:
            return f"tool '{name}' is defined twice"
        seen.add(name)
        parameters = tool["function"].get("parameters", {})
        try:
            jsonschema.Draft202012Validator.check_schema(parameters)
        except jsonschema.SchemaError as exc:
            where = _dotted(exc.absolute_path) or "parameters"
            return f"tool '{name}': parameters is not a valid JSON Schema ({where}: {exc.message})"
    return None


def _tool_parameters(tools: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {
        tool["function"]["name"]: tool["function"].get("parameters", {"type": "object"})
        for tool in tools
    }


def slugify(text: str) -> str:
    """A case id made from a prompt: lowercase words joined by '-'."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:SLUG_MAX_CHARS].rstrip("-") or "case"


def _build_cases(
    path: Path,
    document: LineDict,
    suite_tools: tuple[Mapping[str, Any], ...],
    suite_system: str | None,
) -> list[Case]:
    cases: list[Case] = []
    first_line_of: dict[str, int] = {}
    for raw in document["cases"]:
        line = getattr(raw, "line", None)
        case_id = raw.get("id") or slugify(raw.get("prompt") or _last_user_text(raw["messages"]))
        if case_id in first_line_of:
            hint = "" if raw.get("id") else " (its id comes from the prompt; give it an 'id')"
            raise CaseFileError(
                path,
                f"duplicate id, first used on line {first_line_of[case_id]}{hint}",
                case=case_id,
                line=line,
            )
        first_line_of[case_id] = line or 0
        tools = (
            _resolve_tools(path, raw["tools"], line=_line_of(raw, "tools"))
            if "tools" in raw
            else suite_tools
        )
        system = (
            _resolve_system(path, raw["system"], line=_line_of(raw, "system"))
            if "system" in raw
            else suite_system
        )
        tool_parameters = _tool_parameters(tools)
        problems = expectation_problems(raw["expect"], tool_parameters)
        if problems:
            raise CaseFileError(
                path, "; ".join(problems), case=case_id, line=_line_of(raw, "expect")
            )
        messages = raw.get("messages") or [{"role": "user", "content": raw["prompt"]}]
        cases.append(
            Case(
                id=case_id,
                line=line or 0,
                messages=tuple(_plain(message) for message in messages),
                expect=_plain(raw["expect"]),
                tags=tuple(raw.get("tags", ())),
                system=system,
                tools=tools,
                tool_choice=_plain(raw.get("tool_choice", document.get("tool_choice"))),
                params={**document.get("params", {}), **raw.get("params", {})},
                tool_parameters=tool_parameters,
            )
        )
    return cases


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    user_texts = [m.get("content") for m in messages if m.get("role") == "user"]
    return next((t for t in reversed(user_texts) if isinstance(t, str)), "case")


def _plain(value: Any) -> Any:
    """Line-annotated YAML containers -> plain dicts and lists (for JSON and equality)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


__all__ = [
    "Case",
    "CaseFileError",
    "Suite",
    "load_suite",
    "looks_like_case_file",
    "relative_path",
    "slugify",
]
