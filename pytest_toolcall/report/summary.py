"""The run's summary as sections of rows (rendered by `render` for the terminal and as
Markdown): figures per suite x model, misses, flaky cases, model comparison with the
paired test, tool scores, baseline changes.

A suite is its case file: two files with the same `suite:` name are two rows, each named
with its file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_toolcall.report.baseline import baseline_verdict
from pytest_toolcall.report.cost import format_cost
from pytest_toolcall.report.formatting import format_actual, format_expected, shorten
from pytest_toolcall.report.gates import gate_cell
from pytest_toolcall.report.pairs import model_comparisons, run_cost
from pytest_toolcall.report.records import disagreements, suite_key, suite_labels
from pytest_toolcall.report.render import (
    CELL_WIDTH,
    RESTATED_OUTCOMES,
    Section,
    to_markdown,
    write_terminal,
)
from pytest_toolcall.report.stats import DEFAULT_ALPHA, describe_paired

__all__ = [
    "CELL_WIDTH",
    "RESTATED_OUTCOMES",
    "Section",
    "build_sections",
    "to_markdown",
    "write_terminal",
]


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


def _label(summary: Mapping[str, Any]) -> str:
    return summary.get("label") or summary["suite"]


def _figures(summaries: Sequence[Mapping[str, Any]]) -> Section:
    ks = {s["k"] for s in summaries if "k" in s}
    k = str(ks.pop()) if len(ks) == 1 else "k"
    repeats = (f"pass@{k}", f"pass^{k}") if any("k" in s for s in summaries) else ()
    priced = ("cost",) if any("cost_usd" in s for s in summaries) else ()
    header = ("suite", "model", "pass", "acc", *repeats, "gate", "p50 ms", "p95 ms", "tokens")
    figures = Section("toolcall", (*header, *priced))
    for summary in summaries:
        gate_text, passed = gate_cell(summary["gate"])
        errors = f" ({summary['errors']} err)" if summary["errors"] else ""
        pass_k = (
            (_percent(summary.get("pass_at_k")), _percent(summary.get("pass_hat_k")))
            if repeats
            else ()
        )
        cost = (format_cost(summary.get("cost_usd")),) if priced else ()
        figures.rows.append(
            (
                _label(summary),
                shorten(summary["model"], 36),
                f"{summary['passes']}/{summary['judged']}{errors}",
                _accuracy(summary),
                *pass_k,
                gate_text,
                _figure(summary["p50_ms"]),
                _figure(summary["p95_ms"]),
                _figure(summary["mean_tokens"]),
                *cost,
            )
        )
        figures.markup.append({} if passed is None else {"green": passed, "red": not passed})
    return figures


def build_sections(
    summaries: Sequence[Mapping[str, Any]],
    case_records: Sequence[Mapping[str, Any]],
    baseline_diff: Mapping[str, Any] | None = None,
    *,
    regressions_mode: str = "any",
    alpha: float = DEFAULT_ALPHA,
) -> list[Section]:
    """Figures per suite x model, misses, model comparison, tool scores, baseline changes."""
    models = list(dict.fromkeys(s["model"] for s in summaries))
    several = len(models) > 1
    sections = [_figures(summaries)]
    if any("cost_usd" in s for s in summaries):
        sections.append(Section(f"cost of the run: {format_cost(run_cost(summaries))}", ()))
    sections.extend(_warnings(summaries))
    by_key: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in case_records:
        by_key.setdefault(suite_key(record), []).append(record)
    for summary in summaries:
        records = by_key.get((summary.get("file") or summary["suite"], summary["model"]), [])
        label = _label(summary) + (f" [{summary['model']}]" if several else "")
        misses = [r for r in records if r["outcome"] not in ("pass", "error")]
        if misses:
            sections.append(_misses(label, misses))
        flaky = set(summary.get("flaky", ()))
        if flaky:
            sections.append(_flaky(label, [r for r in records if r["case"] in flaky]))
    if several:
        sections.extend(_comparison(summaries, case_records, models, alpha))
    for summary in summaries:
        if "tools" in summary:
            sections.extend(_tool_scores(summary, several))
    if baseline_diff is not None:
        labels = suite_labels(case_records)
        sections.extend(_baseline(baseline_diff, labels, regressions_mode))
    return sections


def _warnings(summaries: Sequence[Mapping[str, Any]]) -> list[Section]:
    """Gates that cannot pass whatever the model answers."""
    sections = []
    for summary in summaries:
        gate = summary["gate"] or {}
        for name, check in gate.get("gates", {}).items():
            if check.get("reachable", True):
                continue
            what = "" if name == "all" else f" (tag '{name[4:]}')"
            sections.append(
                Section(
                    f"warning: the gate of {_label(summary)} [{summary['model']}]{what} cannot "
                    f"pass: threshold {check['threshold']:.0%} on the lower bound, which is at "
                    f"most {check['best_lower_bound']:.0%} with n={check['samples']}",
                    (),
                    title_markup={"yellow": True},
                )
            )
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


def _flaky(label: str, records: Sequence[Mapping[str, Any]]) -> Section:
    section = Section(f"flaky ({label})", ("case", "passed", "samples"))
    section.rows = [
        (r["case"], f"{r['passes']}/{r['samples']}", " ".join(r["sample_outcomes"]))
        for r in records
    ]
    return section


def _comparison(
    summaries: Sequence[Mapping[str, Any]],
    case_records: Sequence[Mapping[str, Any]],
    models: list[str],
    alpha: float,
) -> list[Section]:
    accuracy = Section("models side by side", ("suite", *models))
    files = list(dict.fromkeys(s.get("file") or s["suite"] for s in summaries))
    labels = {s.get("file") or s["suite"]: _label(s) for s in summaries}
    for file in files:
        cells = {
            s["model"]: _accuracy(s) for s in summaries if (s.get("file") or s["suite"]) == file
        }
        accuracy.rows.append((labels[file], *(cells.get(model, "-") for model in models)))
    sections = [accuracy]
    paired = model_comparisons(case_records, labels, alpha=alpha)
    if paired:
        test = Section(
            "paired exact test (McNemar) on the cases two models disagree on",
            ("suite", "models", "difference"),
        )
        test.rows = [
            (c["label"], f"{c['base']} -> {c['model']}", describe_paired(c["paired"]))
            for c in paired
        ]
        sections.append(test)
    for file in files:
        by_model: dict[str, dict[str, Mapping[str, Any]]] = {model: {} for model in models}
        for record in case_records:
            if (record.get("file") or record["suite"]) == file:
                by_model[record["model"]][record["case"]] = record
        rows = disagreements(by_model)
        if rows:
            section = Section(f"cases the models disagree on ({labels[file]})", ("case", *models))
            section.rows = [(case, *(o[m] for m in models)) for case, o in rows]
            sections.append(section)
    return sections


def _tool_scores(summary: Mapping[str, Any], several_models: bool) -> list[Section]:
    label = _label(summary) + (f" [{summary['model']}]" if several_models else "")
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


def _baseline(diff: Mapping[str, Any], labels: Mapping[str, str], mode: str) -> list[Section]:
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
                (c["case"], _row_suite(c, labels), c["model"], c["before"], c["now"])
                for c in diff[key]
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
    elif diff["regressions"] or diff["fixed"]:
        failed = mode == "any" and bool(diff["regressions"])
        verdict = baseline_verdict(diff, mode)
        sections.append(Section(verdict, (), title_markup={"red": failed, "green": not failed}))
    return sections


def _row_suite(row: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """A baseline row's suite: as in the figures (name, plus file when a name is shared)."""
    file = row.get("file")
    if file in labels:
        return labels[file]
    return row["suite"] if not file or file == row["suite"] else f"{row['suite']} ({file})"
