"""`CaseFileError`: every problem of a case file, each with its line, case and key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple


class Problem(NamedTuple):
    """One thing wrong in a case file: what, in which case (id or #n), on which line."""

    problem: str
    case: str | None = None
    line: int | None = None


class CaseFileError(Exception):
    """A case file that cannot be run: all its problems, one `path:line: case 'id': …` each."""

    def __init__(
        self, path: Path, problem: str, *, case: str | None = None, line: int | None = None
    ) -> None:
        super().__init__(problem)
        self.path = path
        self.problems: Sequence[Problem] = (Problem(problem, case, line),)

    @classmethod
    def of(cls, path: Path, problems: Iterable[Problem]) -> CaseFileError:
        """One error for several problems, in line order (file-wide ones first)."""
        ordered = sorted(problems, key=lambda p: p.line or 0)
        error = cls(path, ordered[0].problem, case=ordered[0].case, line=ordered[0].line)
        error.problems = tuple(ordered)
        return error

    @property
    def problem(self) -> str:
        return self.problems[0].problem

    @property
    def case(self) -> str | None:
        return self.problems[0].case

    @property
    def line(self) -> int | None:
        return self.problems[0].line

    def __str__(self) -> str:
        return "\n".join(self._format(problem) for problem in self.problems)

    def _format(self, problem: Problem) -> str:
        where = f"{self.path}:{problem.line}" if problem.line else str(self.path)
        case = f"case '{problem.case}': " if problem.case else ""
        return f"{where}: {case}{problem.problem}"
