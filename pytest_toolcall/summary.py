"""The `toolcall` section of pytest's terminal summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_toolcall.records import (
    format_actual,
    format_expected,
    percentile,
    shorten,
    tally,
)

RecordKey = tuple[str, str, str]


def suite_rows(
    case_records: Mapping[RecordKey, dict[str, Any]],
    gate_records: Mapping[tuple[str, str], dict[str, Any]],
) -> list[dict[str, Any]]:
    """One row of figures per suite x model, in the order the suites ran."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (suite, model, _), record in case_records.items():
        grouped.setdefault((suite, model), []).append(record)
    rows = []
    for (suite, model), records in grouped.items():
        counted = tally(records)
        latencies = [ms for r in records for ms in r["latency_ms"]]
        tokens = [t for r in records for t in r["total_tokens"]]
        rows.append(
            {
                "suite": suite,
                "model": model,
                "records": records,
                "tally": counted,
                "gate": gate_records.get((suite, model)),
                "p50_ms": percentile(latencies, 0.50),
                "p95_ms": percentile(latencies, 0.95),
                "mean_tokens": sum(tokens) / len(tokens) if tokens else None,
            }
        )
    return rows


def _gate_cell(row: dict[str, Any]) -> tuple[str, dict[str, bool]]:
    gate = row["gate"]
    if gate is None:
        return "-", {}
    threshold = gate["gates"]["all"]["threshold"]
    word = "PASS" if gate["passed"] else "FAIL"
    return f">={threshold:.0%} {word}", {"green": gate["passed"], "red": not gate["passed"]}


def _accuracy_cell(row: dict[str, Any]) -> str:
    counted = row["tally"]
    if counted.accuracy is None:
        return "-"
    text = f"{counted.accuracy:.0%}"
    interval = counted.interval()
    if interval and any(r["samples"] > 1 for r in row["records"]):
        text += f" [{interval[0]:.0%}-{interval[1]:.0%}]"
    return text


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def write_summary(
    terminal: Any,
    case_records: Mapping[RecordKey, dict[str, Any]],
    gate_records: Mapping[tuple[str, str], dict[str, Any]],
) -> None:
    """Per suite x model figures, then every miss with expected vs actual."""
    rows = suite_rows(case_records, gate_records)
    terminal.section("toolcall", sep="-")
    table = [("suite", "model", "pass", "acc", "gate", "p50 ms", "p95 ms", "tokens")]
    markups: list[dict[str, bool]] = [{"bold": True}]
    for row in rows:
        counted = row["tally"]
        gate_text, markup = _gate_cell(row)
        errors = f" ({counted.errors} err)" if counted.errors else ""
        table.append(
            (
                row["suite"],
                shorten(row["model"], 28),
                f"{counted.passes}/{counted.judged}{errors}",
                _accuracy_cell(row),
                gate_text,
                _figure(row["p50_ms"]),
                _figure(row["p95_ms"]),
                _figure(row["mean_tokens"]),
            )
        )
        markups.append(markup)
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line, markup in zip(table, markups, strict=True):
        cells = [
            cell.rjust(w) if i >= 2 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        terminal.write_line("  ".join(cells).rstrip(), **markup)
    for row in rows:
        misses = [r for r in row["records"] if r["outcome"] not in ("pass", "error")]
        if not misses:
            continue
        label = (
            row["suite"]
            if len({r["model"] for r in rows}) == 1
            else f"{row['suite']} [{row['model']}]"
        )
        terminal.write_line(f"misses ({label})", bold=True)
        width = max(len(r["case"]) for r in misses)
        for record in misses:
            rate = (
                f"  {record['passes']}/{record['samples']} passed" if record["samples"] > 1 else ""
            )
            terminal.write_line(
                f"  {record['case'].ljust(width)}  {shorten(repr(record['prompt']), 70)}{rate}"
            )
            pad = " " * (width + 4)
            terminal.write_line(f"{pad}expected {shorten(format_expected(record['expected']), 90)}")
            terminal.write_line(
                f"{pad}got      {shorten(format_actual(record), 90)}  [{record['outcome']}]",
                yellow=True,
            )
            if record["detail"]:
                terminal.write_line(f"{pad}{shorten(record['detail'], 100)}")
