"""The run's summary as sections of rows, rendered for the terminal and as Markdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_toolcall.report.records import disagreements, format_actual, format_expected, shorten

CELL_WIDTH = 90
# Outcomes whose detail only repeats the expected and got lines above it.
RESTATED_OUTCOMES = ("wrong_tool", "no_call")


@dataclass
class Section:
    """A titled table; `stacked` tables print one labelled line per cell in the terminal."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    stacked: bool = False
    markup: list[dict[str, bool]] = field(default_factory=list)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _accuracy(summary: Mapping[str, Any]) -> str:
    text = _percent(summary["accuracy"])
    if summary["repeated"] and summary["interval"]:
        low, high = summary["interval"]
        text += f" [{low:.0%}-{high:.0%}]"
    return text


def _gate(summary: Mapping[str, Any]) -> tuple[str, dict[str, bool]]:
    gate = summary["gate"]
    if gate is None:
        return "-", {}
    word = "PASS" if gate["passed"] else "FAIL"
    return f">={gate['gates']['all']['threshold']:.0%} {word}", {
        "green": gate["passed"],
        "red": not gate["passed"],
    }


def build_sections(
    summaries: Sequence[Mapping[str, Any]],
    case_records: Sequence[Mapping[str, Any]],
    baseline_diff: Mapping[str, Any] | None = None,
) -> list[Section]:
    """Figures per suite x model, misses, model comparison, tool scores, baseline changes."""
    models = list(dict.fromkeys(s["model"] for s in summaries))
    figures = Section(
        "toolcall", ("suite", "model", "pass", "acc", "gate", "p50 ms", "p95 ms", "tokens")
    )
    for summary in summaries:
        gate_text, markup = _gate(summary)
        errors = f" ({summary['errors']} err)" if summary["errors"] else ""
        figures.rows.append(
            (
                summary["suite"],
                shorten(summary["model"], 36),
                f"{summary['passes']}/{summary['judged']}{errors}",
                _accuracy(summary),
                gate_text,
                _figure(summary["p50_ms"]),
                _figure(summary["p95_ms"]),
                _figure(summary["mean_tokens"]),
            )
        )
        figures.markup.append(markup)
    sections = [figures]
    by_key = {(r["suite"], r["model"]): [] for r in case_records}
    for record in case_records:
        by_key[record["suite"], record["model"]].append(record)
    for summary in summaries:
        misses = [
            r
            for r in by_key.get((summary["suite"], summary["model"]), [])
            if r["outcome"] not in ("pass", "error")
        ]
        if misses:
            label = summary["suite"] + (f" [{summary['model']}]" if len(models) > 1 else "")
            sections.append(_misses(label, misses))
    if len(models) > 1:
        sections.extend(_comparison(summaries, case_records, models))
    for summary in summaries:
        if "tools" in summary:
            sections.extend(_tool_scores(summary, len(models) > 1))
    if baseline_diff is not None:
        sections.extend(_baseline(baseline_diff))
    return sections


def _misses(label: str, misses: Sequence[Mapping[str, Any]]) -> Section:
    section = Section(
        f"misses ({label})", ("case", "prompt", "expected", "got", "outcome", "why"), stacked=True
    )
    for record in misses:
        rate = f"  ({record['passes']}/{record['samples']} passed)" if record["samples"] > 1 else ""
        section.rows.append(
            (
                record["case"],
                repr(record["prompt"]) + rate,
                format_expected(record["expected"]),
                format_actual(record),
                record["outcome"],
                record["detail"],
            )
        )
    return section


def _comparison(
    summaries: Sequence[Mapping[str, Any]],
    case_records: Sequence[Mapping[str, Any]],
    models: list[str],
) -> list[Section]:
    accuracy = Section("models side by side", ("suite", *models))
    suites = list(dict.fromkeys(s["suite"] for s in summaries))
    for suite in suites:
        cells = {s["model"]: _accuracy(s) for s in summaries if s["suite"] == suite}
        accuracy.rows.append((suite, *(cells.get(model, "-") for model in models)))
    sections = [accuracy]
    for suite in suites:
        by_model: dict[str, dict[str, Mapping[str, Any]]] = {model: {} for model in models}
        for record in case_records:
            if record["suite"] == suite:
                by_model[record["model"]][record["case"]] = record
        rows = disagreements(by_model)
        if rows:
            section = Section(f"cases the models disagree on ({suite})", ("case", *models))
            section.rows = [(case, *(o[m] for m in models)) for case, o in rows]
            sections.append(section)
    return sections


def _tool_scores(summary: Mapping[str, Any], several_models: bool) -> list[Section]:
    label = summary["suite"] + (f" [{summary['model']}]" if several_models else "")
    scores = Section(
        f"tools ({label})", ("tool", "expected", "called", "right", "precision", "recall")
    )
    for tool, s in summary["tools"].items():
        scores.rows.append(
            (
                tool,
                str(s["tp"] + s["fn"]),
                str(s["tp"] + s["fp"]),
                str(s["tp"]),
                _percent(s["precision"]),
                _percent(s["recall"]),
            )
        )
    sections = [scores]
    if summary["confusions"]:
        confused = Section(f"most confused ({label})", ("expected", "got", "times"))
        confused.rows = [
            (c["expected"], c["actual"], str(c["count"])) for c in summary["confusions"]
        ]
        sections.append(confused)
    return sections


def _baseline(diff: Mapping[str, Any]) -> list[Section]:
    sections = []
    titles = {
        "regressions": "regressions (passed in the baseline, not now)",
        "fixed": "fixed since the baseline",
        "new": "new cases (not in the baseline)",
        "removed": "cases gone since the baseline",
    }
    for key, title in titles.items():
        if diff[key]:
            section = Section(title, ("case", "suite", "model", "before", "now"))
            section.rows = [
                (c["case"], c["suite"], c["model"], c["before"], c["now"]) for c in diff[key]
            ]
            if key == "regressions":
                section.markup = [{"red": True}] * len(section.rows)
            sections.append(section)
    if diff["renamed"]:
        section = Section("renamed since the baseline (same request)", ("before", "now"))
        section.rows = [(r["before"], r["now"]) for r in diff["renamed"]]
        sections.append(section)
    if not any(diff[key] for key in (*titles, "renamed")):
        sections.append(Section("baseline: no change in any case's verdict", ()))
    return sections


def write_terminal(terminal: Any, sections: Sequence[Section]) -> None:
    """Aligned tables through pytest's TerminalReporter."""
    first, *rest = sections
    terminal.section(first.title, sep="-")
    _write_table(terminal, first)
    for section in rest:
        terminal.write_line(section.title, bold=True)
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
    return bool(cell) and (cell[0].isdigit() or cell[0] in ">-") and " " not in cell.strip("> ")


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
