"""The check every line of a fine-tuning JSONL file passes before `finetune` sends it.

The same check `export` makes before it writes a line (`finetune_lines.line_problems`),
after the line is read back: one JSON object, no blank line. Every bad line of every file
is reported at once, as `<path>:<number>: <problem>`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pytest_toolcall.datagen.finetune_lines import line_problems
from pytest_toolcall.datagen.finetune_poll import FinetuneError


class LineErrors(FinetuneError):
    """Lines that fail the check; nothing was sent."""

    def __init__(self, problems: list[str]) -> None:
        lines = f"{len(problems)} line{'' if len(problems) == 1 else 's'}"
        super().__init__(f"{lines} failed the check; nothing uploaded")
        self.problems = problems


def check_file(path: Path, option: str) -> bytes:
    """The file's bytes once every line is a valid example; raises LineErrors listing each
    bad line as `<path>:<number>: <problem>`, FinetuneError(status 2) for an unreadable or
    empty file."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except OSError as exc:
        raise FinetuneError(f"{option} {path}: {exc.strerror or exc}", status=2) from exc
    except UnicodeDecodeError as exc:
        raise FinetuneError(f"{option} {path} is not UTF-8 text", status=2) from exc
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise FinetuneError(f"{option} {path} has no lines", status=2)
    problems = []
    for number, line in enumerate(lines, 1):
        problems += [f"{path}:{number}: {problem}" for problem in _line_problems(line)]
    if problems:
        raise LineErrors(problems)
    return data


def check_files(files: Sequence[tuple[str, Path]]) -> list[tuple[Path, bytes]]:
    """`check_file` for each, every bad line of every file reported at once."""
    checked, problems = [], []
    for option, path in files:
        try:
            checked.append((path, check_file(path, option)))
        except LineErrors as exc:
            problems += exc.problems
    if problems:
        raise LineErrors(problems)
    return checked


def _line_problems(text: str) -> list[str]:
    if not text.strip():
        return ["a blank line"]
    try:
        line = json.loads(text)
    except ValueError as exc:
        return [f"not JSON ({exc})"]
    if not isinstance(line, dict):
        return ["not a JSON object"]
    return line_problems(line)
