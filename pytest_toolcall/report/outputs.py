"""What a finished run writes: the summary sections, the JSON report, the Markdown (and
GitHub's step summary), and the baseline's verdict on the run."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_toolcall.atomic_write import write_atomic
from pytest_toolcall.report.baseline import baseline_failed, compare, record_regressions
from pytest_toolcall.report.json_report import build_report, write_json
from pytest_toolcall.report.records import suite_summaries
from pytest_toolcall.report.render import Section, to_markdown
from pytest_toolcall.report.summary import build_sections


@dataclass(frozen=True)
class Gating:
    """How gates and the baseline decide."""

    threshold_override: float | None = None
    use_lower_bound: bool = False
    regressions: str = "any"  # or "significant"
    alpha: float = 0.05


@dataclass(frozen=True)
class Outputs:
    """Files the run writes or reads besides cassettes, and what reports show."""

    report: Path | None = None
    markdown: Path | None = None
    baseline: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # echoed in the JSON report
    prices: dict[str, tuple[float, float]] | None = None


def write_outputs(
    outputs: Outputs,
    gating: Gating,
    records: Sequence[Mapping[str, Any]],
    gate_records: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    terminal_stats: MutableMapping[str, list[Any]] | None,
) -> tuple[list[Section], bool]:
    """The summary sections, with every file written; and whether the baseline fails the
    run (its regressions then go into pytest's last line through `terminal_stats`)."""
    summaries = suite_summaries(records, gate_records, prices=outputs.prices)
    diff = compare(outputs.baseline, records, alpha=gating.alpha) if outputs.baseline else None
    sections = build_sections(
        summaries, records, diff, regressions_mode=gating.regressions, alpha=gating.alpha
    )
    if outputs.report:
        report = build_report(
            summaries, records, options=outputs.options, baseline_diff=diff, alpha=gating.alpha
        )
        write_json(outputs.report, report)
    markdown = to_markdown(sections)
    if outputs.markdown:
        write_atomic(outputs.markdown, markdown)
    if step_summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(step_summary, "a", encoding="utf-8") as stream:
            stream.write(markdown)
    if diff is None or not baseline_failed(diff, gating.regressions):
        return sections, False
    if terminal_stats is not None:  # pytest's last line then says "2 regressed"
        record_regressions(terminal_stats, diff)
    return sections, True
