"""`pytest-toolcall export`: case files -> chat fine-tuning JSONL, checked line by line.

Each case's expectation is resolved to one concrete answer (`concrete_calls`), built into a
line and checked (`finetune_lines`); what has no single concrete answer is skipped and
counted, a line that fails the check is left out and reported. The lines are split into
training and validation parts by a seeded sample and written atomically.
"""

from __future__ import annotations

import glob
import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_toolcall.atomic_write import write_atomic
from pytest_toolcall.collect.casefile import load_suite, looks_like_case_file
from pytest_toolcall.datagen.concrete_calls import (
    Unresolvable,
    resolve_agent_turns,
    resolve_calls,
    resolve_value,
)
from pytest_toolcall.datagen.finetune_lines import (
    build_agent_line,
    build_line,
    line_problems,
    strip_descriptions,
    strip_schema,
)


class ExportError(Exception):
    """An export that cannot run; the message is one line for the user."""


@dataclass
class ExportReport:
    """What an export wrote and what it left out."""

    written: int = 0
    train: int = 0
    val: int = 0
    suites: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)  # "<file>::<case>: <problem>"
    repeats: list[str] = field(default_factory=list)  # "<file>::<case>: same example as ..."
    warnings: list[str] = field(default_factory=list)


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


def _check_targets(paths: Sequence[Path], out: Path, val_out: Path | None) -> None:
    """Refuse to write over a case file being read, or the training file with the
    validation one."""
    inputs = {path.resolve() for path in paths}
    for option, target in (("--out", out), ("--val-out", val_out)):
        if target is not None and target.resolve() in inputs:
            raise ExportError(f"{option} {target} is one of the case files read")
    if val_out is not None and val_out.resolve() == out.resolve():
        raise ExportError(f"--val-out {val_out} is the same file as --out")


def _stale_overlap(val_path: Path, lines: Sequence[str]) -> bool:
    """Whether a validation file this export does not write holds some of its lines."""
    try:
        old = val_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    return not set(old).isdisjoint(lines)


def _add_line(
    text: str,
    where: str,
    seen: dict[str, str],
    prompts: dict[str, tuple[str, str]],
    report: ExportReport,
) -> bool:
    """Whether `text` is a new example: a repeat (same line) would be trained on twice and
    could sit in both parts of the split; the same messages with another answer teach two
    answers to one question (rejected)."""
    if text in seen:
        report.repeats.append(f"{where}: same example as {seen[text]}")
        return False
    line = json.loads(text)
    question = json.dumps([line["messages"][:-1], line["tools"]], ensure_ascii=False)
    if question in prompts and prompts[question][1] != text:
        report.rejected.append(
            f"{where}: the same messages as {prompts[question][0]} with another answer"
        )
        return False
    seen[text] = where
    prompts.setdefault(question, (where, text))
    return True


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
    _check_targets(paths, out, (val_out or default_val_path(out)) if val_split > 0 else None)
    report = ExportReport()
    lines: list[str] = []
    seen: dict[str, str] = {}
    prompts: dict[str, tuple[str, str]] = {}
    for path in paths:
        suite = load_suite(path, rootdir or Path.cwd())
        report.suites += 1
        for case in suite.cases:
            where = f"{path}::{case.id}"
            try:
                if "steps" in case.expect:
                    turns, text = resolve_agent_turns(case)
                    line = build_agent_line(case, turns, text, strip=strip)
                else:
                    line = build_line(case, resolve_calls(case), strip=strip)
            except Unresolvable as reason:
                report.skipped[str(reason)] += 1
                continue
            text = json.dumps(line, ensure_ascii=False)
            if problems := line_problems(json.loads(text)):
                report.rejected.append(f"{where}: {'; '.join(problems)}")
                continue
            if _add_line(text, where, seen, prompts, report):
                lines.append(text)
    if not lines:
        raise ExportError("nothing to export: " + (_skipped_text(report.skipped) or "no cases"))
    val = split_indexes(len(lines), val_split, seed)
    train_lines = [line for index, line in enumerate(lines) if index not in val]
    _write_jsonl(out, train_lines)
    if val_split > 0:
        _write_jsonl(val_out or default_val_path(out), [lines[index] for index in sorted(val)])
    elif _stale_overlap(default_val_path(out), train_lines):
        report.warnings.append(
            f"{default_val_path(out)} is from an earlier export and overlaps {out}; delete it "
            "(or export with --val-split) before training on both"
        )
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
