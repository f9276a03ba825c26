"""The generated case file: its entries, rendered as YAML and written atomically."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pytest_toolcall.atomic_write import write_atomic
from pytest_toolcall.collect.casefile import CaseFileError, load_suite
from pytest_toolcall.datagen.generation_inputs import (
    GenerateError,
    GenerateOptions,
    read_text,
    read_tools,
)
from pytest_toolcall.datagen.invocations import Invocation
from pytest_toolcall.datagen.stated_values import expected_args, is_loosened

SUITE_PARAMS: Mapping[str, Any] = {"temperature": 0, "seed": 42}
THRESHOLD_COMMENT = """\
# threshold: generated cases are unreviewed: a few prompts stay ambiguous however they are
# checked, so the gate starts below 1.0. Review the cases (fix or delete the doubtful ones),
# then raise it (to 1.0 for a suite of exact cases).
"""
FREE_TEXT_COMMENT = """\
# Free text (a string argument without an enum) is expected as {$one_of: [<the generator's
# value>, {$regex: <a key word of this case's prompt>}]}: a model paraphrases free text, so a
# word-for-word expectation could never pass; the key word keeps it on topic. The first
# option is what `pytest-toolcall export` writes. A free-form object (no `properties`) has
# key names the generator made up, so it is {$one_of: [<value>, {$any: true}]}.
"""
REJECTS_TAG = "rejects"


class _Flow(dict):
    """A mapping written in flow style: `{tool: x, args: {a: 1}}`."""


class _FlowList(list):
    """A list written in flow style: `[a, b]`."""


class _Dumper(yaml.SafeDumper):
    """Safe YAML that YAML 1.1 readers read back the same (`'on'`, `'y'` stay strings),
    with list items indented under their key, as people write case files."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


_Dumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))
_Dumper.add_representer(
    _Flow, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, True)
)
_Dumper.add_representer(
    _FlowList, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, True)
)


def _flow(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _Flow({key: _flow(item) for key, item in value.items()})
    if isinstance(value, list):
        return _FlowList(_flow(item) for item in value)
    return value


def case_entries(
    invocations: Sequence[Invocation],
    fills: Sequence[tuple[Mapping[str, Any], Sequence[str]] | None],
    rejects: Sequence[str],
    reject_tool: str | None,
    notes: list[str],
    parameters: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The case entries from each invocation's filled arguments and prompts (None: no
    usable answer); a prompt already used by an earlier case is left out (noted).
    `parameters` maps each tool to its parameters' schema (free text is expected by a key
    word of the case's own prompt, see `stated_values`)."""
    cases: list[dict[str, Any]] = []
    for invocation, fill in zip(invocations, fills, strict=True):
        if fill is None:
            continue
        args, prompts = fill
        for number, prompt in enumerate(prompts, start=1):
            expect: dict[str, Any] = {"tool": invocation.tool}
            if args:
                expect["args"] = expected_args(args, parameters[invocation.tool], prompt)
            cases.append(
                {"id": f"{invocation.slug}-{number}", "prompt": prompt, "expect": _flow(expect)}
            )
    for number, prompt in enumerate(rejects, start=1):
        cases.append(
            {
                "id": f"{reject_tool}-{number}",
                "prompt": prompt,
                "expect": _Flow({"tool": reject_tool}),
                "tags": _flow([REJECTS_TAG]),
            }
        )
    seen: set[str] = set()
    for case in cases:  # ids made of free-form enum values may collide: keep them unique
        base, number = case["id"], 2
        while case["id"] in seen:
            case["id"], number = f"{base}.{number}", number + 1
        seen.add(case["id"])
    first_with: dict[str, dict[str, Any]] = {}
    kept = []
    for case in cases:  # one prompt, two expected answers: a case that can never pass
        earlier = first_with.setdefault(case["prompt"].casefold(), case)
        if earlier is case:
            kept.append(case)
        else:
            notes.append(f"{case['id']}: same prompt as {earlier['id']}; left out")
    return kept


def _relative_path(target: Path, start: Path) -> str | None:
    try:
        return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()
    except ValueError:  # another drive
        return None


def _schema_comment(out: Path) -> str:
    schema = Path(str(resources.files("pytest_toolcall").joinpath("schema/casefile.schema.json")))
    relative = _relative_path(schema, out.parent)
    return f"# yaml-language-server: $schema={relative or schema.as_uri()}\n"


def render_suite(options: GenerateOptions, cases: Sequence[Mapping[str, Any]]) -> str:
    """The case file's text: schema comment, suite settings, the cases."""
    document: dict[str, Any] = {"suite": options.suite or options.out.stem}
    if options.system_path is not None:
        document["system"] = _relative_path(options.system_path, options.out.parent) or (
            read_text(options.system_path, "system prompt")
        )
    document["tools"] = _relative_path(options.tools_path, options.out.parent) or read_tools(
        options.tools_path
    )
    document["tool_choice"] = "required"
    document["threshold"] = options.threshold
    document["params"] = _Flow(SUITE_PARAMS)
    document["cases"] = list(cases)
    header = _schema_comment(options.out) + (
        f"# Generated by `pytest-toolcall generate` with {options.model} "
        f"from {options.tools_path.name}; review before relying on it.\n"
    )
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2
    )
    # Top-level keys start a line and are unique: the comments go right above theirs.
    body = body.replace("\nthreshold: ", "\n" + THRESHOLD_COMMENT + "threshold: ", 1)
    if any(is_loosened(case["expect"]) for case in cases):
        body = body.replace("\ncases:\n", "\n" + FREE_TEXT_COMMENT + "cases:\n", 1)
    return header + body


def write_suite(options: GenerateOptions, cases: Sequence[Mapping[str, Any]]) -> None:
    """Write atomically, after checking that the text loads as a suite.

    The check reads a hidden sibling file (relative `tools:`/`system:` paths resolve as in
    the real file), removed whatever happens; the case file is replaced only after it."""
    text = render_suite(options, cases)
    out = options.out
    check = out.parent / f".{out.stem}.check{out.suffix}"
    try:
        write_atomic(check, text)
        try:
            load_suite(check, out.parent)
        except CaseFileError as exc:
            raise GenerateError(f"the generated suite does not load: {exc.problem}") from None
    finally:
        with contextlib.suppress(OSError):
            check.unlink()
    write_atomic(out, text)
