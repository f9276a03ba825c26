"""Rendering sections of rows: aligned tables in pytest's terminal, GitHub Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_toolcall.report.formatting import shorten

CELL_WIDTH = 90
# Outcomes whose detail only repeats the expected and got lines above it.
RESTATED_OUTCOMES = ("wrong_tool", "no_call")


@dataclass
class Section:
    """A titled table; `stacked` tables print one labelled line per cell in the terminal.
    A section without a header is a line of its own (its title)."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    stacked: bool = False
    markup: list[dict[str, bool]] = field(default_factory=list)
    title_markup: dict[str, bool] = field(default_factory=dict)


def write_terminal(terminal: Any, sections: Sequence[Section]) -> None:
    """Aligned tables through pytest's TerminalReporter."""
    first, *rest = sections
    terminal.section(first.title, sep="-")
    _write_table(terminal, first)
    for section in rest:
        terminal.write_line(section.title, **{"bold": True, **section.title_markup})
        if section.stacked:
            _write_stacked(terminal, section)
        elif section.header:
            _write_table(terminal, section, indent="  ")


def _write_table(terminal: Any, section: Section, indent: str = "") -> None:
    lines = [section.header, *(tuple(shorten(c, CELL_WIDTH) for c in row) for row in section.rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(section.header))]
    markups = [{"bold": True}, *(section.markup or [{}] * len(section.rows))]
    for line, markup in zip(lines, markups, strict=False):
        cells = [
            cell.rjust(width) if _numeric(cell) else cell.ljust(width)
            for cell, width in zip(line, widths, strict=True)
        ]
        terminal.write_line(indent + "  ".join(cells).rstrip(), **markup)


def _numeric(cell: str) -> bool:
    return bool(cell) and (cell[0].isdigit() or cell[0] in ">-$") and " " not in cell.strip("> ")


def _write_stacked(terminal: Any, section: Section) -> None:
    width = max(len(row[0]) for row in section.rows)
    pad = " " * (width + 4)
    for case, prompt, expected, got, outcome, why in section.rows:
        terminal.write_line(f"  {case.ljust(width)}  {shorten(prompt, CELL_WIDTH)}")
        terminal.write_line(f"{pad}expected {shorten(expected, CELL_WIDTH)}")
        terminal.write_line(f"{pad}got      {shorten(got, CELL_WIDTH)}  [{outcome}]", yellow=True)
        if why and outcome not in RESTATED_OUTCOMES:
            terminal.write_line(f"{pad}{shorten(why, CELL_WIDTH + 10)}")


def to_markdown(sections: Sequence[Section]) -> str:
    """The same sections as GitHub-flavoured Markdown."""
    out = []
    for index, section in enumerate(sections):
        out.append(f"{'###' if index else '##'} {section.title}\n")
        if not section.header:
            continue
        out.append("| " + " | ".join(section.header) + " |")
        out.append("|" + "|".join("---" for _ in section.header) + "|")
        for row in section.rows:
            out.append("| " + " | ".join(_md_cell(cell) for cell in row) + " |")
        out.append("")
    return "\n".join(out) + "\n"


def _md_cell(cell: str) -> str:
    text = cell.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if text.startswith(("{", "'")) or "{" in text else text
