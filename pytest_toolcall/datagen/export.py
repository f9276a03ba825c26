"""`pytest-toolcall export`: case files -> chat fine-tuning JSONL, checked line by line.

One line per case: ``{"messages": [system, ...the case's messages, assistant with
tool_calls], "tools": [...], "parallel_tool_calls": false}``; a case expecting several
calls gets one assistant message with one `tool_calls` entry per call (and no
`parallel_tool_calls` key, so parallel calls stay allowed). Arguments are JSON strings.

Expectations are resolved to one concrete answer: a literal is itself, `$one_of` its first
option that resolves (`$absent` only when no option has a value), `$approx` its value,
`$between` its lower bound (rounded up for an integer parameter), `$icase` its text (as
the `enum` spells it, if there is one), `$unordered` its list, `$absent` leaves the
argument out; `any_of` takes its first alternative that resolves. What has no single
concrete answer is skipped and counted: `$regex`, `$contains` and `$any` values, `no_call`
cases (there is no assistant text to train on) and expectations that leave out a required
argument (the answer would not be a valid call). The answer must pass the case's own
expectation, and every line is checked (shape, roles, tool names, arguments against the
tool's schema) before it is written; a line that fails is left out and reported.
"""

from __future__ import annotations

import copy
import glob
import json
import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_toolcall.atomic_write import write_atomic
from pytest_toolcall.collect.casefile import Case, load_suite, looks_like_case_file
from pytest_toolcall.judge.matching import ToolCall, is_operator, judge

SCHEMA_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
SCHEMA_DATA_KEYS = frozenset({"enum", "const", "default", "examples", "required"})
FINE_TUNING_ROLES = frozenset({"system", "user", "assistant", "tool"})
LINE_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
MAX_LISTED_PROBLEMS = 10

_ABSENT: Any = object()  # an argument the answer leaves out


class ExportError(Exception):
    """An export that cannot run; the message is one line for the user."""


class Unresolvable(Exception):
    """An expectation with no single concrete answer; the message is the reason counted."""


# ---- expectations -> concrete calls -----------------------------------------------------


def _property_schema(schema: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    properties = schema.get("properties")
    sub = properties.get(key) if isinstance(properties, Mapping) else None
    return sub if isinstance(sub, Mapping) else {}


def _items_schema(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    items = schema.get("items")
    return items if isinstance(items, Mapping) else {}


def _wants_integer(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "integer" or (isinstance(kind, list) and "integer" in kind)


def _number(value: float, schema: Mapping[str, Any]) -> Any:
    if _wants_integer(schema) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def resolve_value(spec: Any, schema: Mapping[str, Any]) -> Any:
    """One concrete value that `spec` accepts (`_ABSENT`: leave it out), or `Unresolvable`."""
    if is_operator(spec):
        return _resolve_operator(spec, schema)
    if isinstance(spec, Mapping):
        resolved = {
            key: resolve_value(value, _property_schema(schema, key)) for key, value in spec.items()
        }
        return {key: value for key, value in resolved.items() if value is not _ABSENT}
    if isinstance(spec, list):
        return [_present(resolve_value(item, _items_schema(schema))) for item in spec]
    return spec


def _present(value: Any) -> Any:
    if value is _ABSENT:
        raise Unresolvable("$absent inside a list")
    return value


def _resolve_operator(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
    if "$one_of" in spec:
        first_problem: Unresolvable | None = None
        absent = False
        for option in spec["$one_of"]:
            try:
                value = resolve_value(option, schema)
            except Unresolvable as problem:
                first_problem = first_problem or problem
                continue
            if value is _ABSENT:
                absent = True
                continue
            return value
        if absent:
            return _ABSENT
        raise first_problem or Unresolvable("$one_of")
    if "$approx" in spec:
        return _number(spec["$approx"], schema)
    if "$between" in spec:
        low, high = spec["$between"]
        value = math.ceil(low) if _wants_integer(schema) else low
        if value > high:
            raise Unresolvable("$between without an integer")
        return value
    if "$icase" in spec:
        wanted = spec["$icase"].casefold()
        listed = [
            v for v in schema.get("enum") or () if isinstance(v, str) and v.casefold() == wanted
        ]
        return listed[0] if listed else spec["$icase"]
    if "$unordered" in spec:
        return [_present(resolve_value(item, _items_schema(schema))) for item in spec["$unordered"]]
    if "$absent" in spec:
        return _ABSENT
    raise Unresolvable(sorted(spec)[0])


def _resolve_form(form: Mapping[str, Any], tools: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if form.get("no_call"):
        raise Unresolvable("no_call")
    calls = form.get("calls", [form])
    return [
        (call["tool"], resolve_value(call.get("args") or {}, tools.get(call["tool"]) or {}))
        for call in calls
    ]


def resolve_calls(case: Case) -> list[tuple[str, dict[str, Any]]]:
    """The concrete (tool, args) calls answering `case`, checked against its expectation."""
    forms = case.expect.get("any_of", [case.expect])
    first_problem: Unresolvable | None = None
    for form in forms:
        try:
            calls = _resolve_form(form, case.tool_parameters)
        except Unresolvable as problem:
            first_problem = first_problem or problem
            continue
        verdict = judge(form, _tool_calls(calls), case.tool_parameters)
        if verdict.passed:
            return calls
        first_problem = first_problem or Unresolvable(f"no valid call ({verdict.outcome})")
    raise first_problem or Unresolvable("no alternative")


def _tool_calls(calls: Iterable[tuple[str, Any]]) -> list[ToolCall]:
    return [ToolCall(name, json.dumps(args, ensure_ascii=False)) for name, args in calls]


# ---- tools ------------------------------------------------------------------------------


def strip_schema(schema: Any) -> Any:
    """A JSON Schema without `description` keywords at any depth; a *property* named
    `description` stays (only its own description goes), and enum/const/default data
    is left as it is."""
    if isinstance(schema, list):
        return [strip_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    stripped: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "description":
            continue
        if key in SCHEMA_NAME_MAPS and isinstance(value, Mapping):
            stripped[key] = {name: strip_schema(sub) for name, sub in value.items()}
        elif key in SCHEMA_DATA_KEYS:
            stripped[key] = copy.deepcopy(value)
        else:
            stripped[key] = strip_schema(value)
    return stripped


def strip_descriptions(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tools without descriptions: the function's and every one in its parameters."""
    stripped = []
    for tool in tools:
        function = {k: v for k, v in tool["function"].items() if k != "description"}
        if "parameters" in function:
            function["parameters"] = strip_schema(function["parameters"])
        stripped.append({**tool, "function": function})
    return stripped


# ---- lines ------------------------------------------------------------------------------


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A case message as the API wants it: tool-call arguments as JSON strings."""
    result = dict(message)
    if isinstance(result.get("tool_calls"), list):
        result["tool_calls"] = [
            _with_string_arguments(call) if isinstance(call, Mapping) else call
            for call in result["tool_calls"]
        ]
    return result


def _with_string_arguments(call: Mapping[str, Any]) -> dict[str, Any]:
    function = dict(call.get("function") or {})
    if "arguments" in function and not isinstance(function["arguments"], str):
        function["arguments"] = json.dumps(function["arguments"], ensure_ascii=False)
    return {**call, "function": function}


def build_line(
    case: Case, calls: Sequence[tuple[str, Any]], *, strip: bool = False
) -> dict[str, Any]:
    """One fine-tuning example."""
    messages = [{"role": "system", "content": case.system}] if case.system is not None else []
    messages += [_message(message) for message in case.messages]
    tool_calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": c.name, "arguments": c.arguments},
        }
        for i, c in enumerate(_tool_calls(calls))
    ]
    messages.append({"role": "assistant", "tool_calls": tool_calls})
    tools = strip_descriptions(case.tools) if strip else [dict(tool) for tool in case.tools]
    line: dict[str, Any] = {"messages": messages, "tools": tools}
    if len(calls) == 1:
        line["parallel_tool_calls"] = False
    return line


def line_problems(line: Mapping[str, Any]) -> list[str]:
    """Why `line` is not a usable chat fine-tuning example with tool calls; [] when it is."""
    if set(line) - LINE_KEYS:
        return [f"unexpected keys {sorted(set(line) - LINE_KEYS)}"]
    messages, tools = line.get("messages"), line.get("tools")
    if not isinstance(tools, list) or not tools:
        return ["no tools"]
    try:
        parameters = {
            tool["function"]["name"]: tool["function"].get("parameters", {}) for tool in tools
        }
    except (KeyError, TypeError):
        return ["tools must be {type: function, function: {name, parameters}}"]
    if not isinstance(messages, list) or not messages:
        return ["no messages"]
    roles = [m.get("role") if isinstance(m, Mapping) else None for m in messages]
    problems = [
        f"messages[{index}]: role {role!r} is not one of {', '.join(sorted(FINE_TUNING_ROLES))}"
        for index, role in enumerate(roles)
        if role not in FINE_TUNING_ROLES
    ]
    if "user" not in roles:
        problems.append("no user message")
    last = messages[-1] if isinstance(messages[-1], Mapping) else {}
    calls = last.get("tool_calls")
    if last.get("role") != "assistant" or not isinstance(calls, list) or not calls:
        return [*problems, "the last message is not an assistant message with tool_calls"]
    parsed = []
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if (
            not isinstance(function, Mapping)
            or call.get("type") != "function"
            or not isinstance(call.get("id"), str)
            or not isinstance(function.get("arguments"), str)
        ):
            problems.append(
                f"tool_calls[{index}]: needs id, type function, name and arguments as a JSON string"
            )
            continue
        parsed.append(ToolCall(str(function.get("name")), function["arguments"]))
    if not problems:
        expect = {"calls": [{"tool": call.name} for call in parsed]}
        verdict = judge(expect, parsed, parameters)
        if not verdict.passed:
            problems.append(f"{verdict.outcome}: {verdict.detail}")
    return problems


# ---- the whole export -------------------------------------------------------------------


@dataclass
class ExportReport:
    """What an export wrote and what it left out."""

    written: int = 0
    train: int = 0
    val: int = 0
    suites: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)  # "<file>::<case>: <problem>"


def case_files(patterns: Sequence[str]) -> list[Path]:
    """The case files named (directories searched, unexpanded globs expanded), no repeats."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".yaml", ".yml") and looks_like_case_file(p)
            )
        elif path.exists():
            found.append(path)
        elif glob.has_magic(pattern) and (matches := sorted(glob.glob(pattern, recursive=True))):
            found += [Path(match) for match in matches if looks_like_case_file(Path(match))]
        else:
            raise ExportError(f"no such case file: {pattern}")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    if not unique:
        raise ExportError("no case files found in " + " ".join(patterns))
    return list(unique.values())


def split_indexes(count: int, fraction: float, seed: int) -> set[int]:
    """Which of `count` lines go to validation: `round(count * fraction)` of them (at least
    one and at most count - 1 when there are two or more), chosen by `random.Random(seed)`."""
    if fraction <= 0 or count < 2:
        return set()
    size = min(max(round(count * fraction), 1), count - 1)
    return set(random.Random(seed).sample(range(count), size))


def _write_jsonl(path: Path, lines: Sequence[str]) -> None:
    write_atomic(path, "".join(line + "\n" for line in lines))


def default_val_path(out: Path) -> Path:
    """`train.jsonl` -> `train.val.jsonl`."""
    return out.with_name(f"{out.stem}.val{out.suffix or '.jsonl'}")


def export(
    paths: Sequence[Path],
    out: Path,
    *,
    strip: bool = False,
    val_split: float = 0.0,
    seed: int = 0,
    val_out: Path | None = None,
    rootdir: Path | None = None,
) -> ExportReport:
    """Write the fine-tuning JSONL (and the validation part); raises CaseFileError."""
    report = ExportReport()
    lines: list[str] = []
    for path in paths:
        suite = load_suite(path, rootdir or Path.cwd())
        report.suites += 1
        for case in suite.cases:
            where = f"{path}::{case.id}"
            try:
                calls = resolve_calls(case)
            except Unresolvable as reason:
                report.skipped[str(reason)] += 1
                continue
            line = build_line(case, calls, strip=strip)
            text = json.dumps(line, ensure_ascii=False)
            if problems := line_problems(json.loads(text)):
                report.rejected.append(f"{where}: {'; '.join(problems)}")
                continue
            lines.append(text)
    if not lines:
        raise ExportError("nothing to export: " + (_skipped_text(report.skipped) or "no cases"))
    val = split_indexes(len(lines), val_split, seed)
    train_lines = [line for index, line in enumerate(lines) if index not in val]
    _write_jsonl(out, train_lines)
    if val_split > 0:
        _write_jsonl(val_out or default_val_path(out), [lines[index] for index in sorted(val)])
    report.written, report.train, report.val = len(lines), len(train_lines), len(val)
    return report


def _skipped_text(skipped: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items()))


def skipped_text(report: ExportReport) -> str:
    """`3 cases skipped (no single concrete answer): 2 $regex, 1 no_call`, or ''."""
    total = sum(report.skipped.values())
    if not total:
        return ""
    noun = "case" if total == 1 else "cases"
    return f"{total} {noun} skipped (no single concrete answer): {_skipped_text(report.skipped)}"


__all__ = [
    "ExportError",
    "ExportReport",
    "build_line",
    "case_files",
    "default_val_path",
    "export",
    "line_problems",
    "resolve_calls",
    "resolve_value",
    "split_indexes",
    "strip_descriptions",
    "strip_schema",
]
