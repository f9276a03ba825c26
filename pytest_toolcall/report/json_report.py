"""The JSON report (`--toolcall-report`).

The format is versioned: `{"format": "pytest-toolcall-report", "version": 1, ...}`; fields
are documented in the README. Reading a report back as a baseline is `baseline`'s job (its
names are re-exported here for older imports).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_toolcall import __version__
from pytest_toolcall.atomic_write import write_atomic
from pytest_toolcall.report.baseline import (
    REPORT_FORMAT,
    REPORT_VERSION,
    BaselineError,
    compare,
    load_baseline,
)
from pytest_toolcall.report.pairs import model_comparisons, run_cost
from pytest_toolcall.report.stats import DEFAULT_ALPHA

__all__ = [
    "REPORT_FORMAT",
    "REPORT_VERSION",
    "BaselineError",
    "build_report",
    "compare",
    "load_baseline",
    "write_json",
]


def build_report(
    summaries: Sequence[Mapping[str, Any]],
    case_records: Sequence[Mapping[str, Any]],
    *,
    options: Mapping[str, Any],
    baseline_diff: Mapping[str, Any] | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> dict[str, Any]:
    """Everything a CI job may want to keep: cases (of every case file), suites with gates,
    models, options; the paired comparison of models, the baseline comparison, the cost."""
    labels = {s["file"]: s.get("label", s["suite"]) for s in summaries if s.get("file")}
    report = {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "tool": {"name": "pytest-toolcall", "version": __version__},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "models": list(dict.fromkeys(s["model"] for s in summaries)),
        "options": dict(options),
        "suites": list(summaries),
        "cases": list(case_records),
        "comparisons": model_comparisons(case_records, labels, alpha=alpha),
    }
    if baseline_diff is not None:
        report["baseline"] = dict(baseline_diff)
    if any("cost_usd" in s for s in summaries):
        report["cost_usd"] = run_cost(summaries)
    return report


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename), with the mode an ordinary file gets."""
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
