"""Several models side by side: per suite, each model against the first one, with the
paired exact test on the cases where their verdicts differ."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_toolcall.report.stats import DEFAULT_ALPHA, paired_test


def model_comparisons(
    case_records: Iterable[Mapping[str, Any]],
    labels: Mapping[str, str] | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
) -> list[dict[str, Any]]:
    """For each case file run by several models: every later model against the first.

    `fixed` counts cases the later model passes and the first does not, `broken` the reverse;
    cases only one of the two ran are left out (they are not paired).
    """
    records = list(case_records)
    models = list(dict.fromkeys(r["model"] for r in records))
    if len(models) < 2:
        return []
    by_file: dict[str, dict[str, dict[str, Mapping[str, Any]]]] = {}
    for record in records:
        file = record.get("file") or record["suite"]
        by_file.setdefault(file, {}).setdefault(record["model"], {})[record["case"]] = record
    comparisons = []
    for file, by_model in by_file.items():
        ran = [m for m in models if m in by_model]
        if len(ran) < 2:
            continue
        base, *others = ran
        suite = next(iter(by_model[base].values()))["suite"]
        for model in others:
            shared = [c for c in by_model[base] if c in by_model[model]]
            first = [by_model[base][c]["outcome"] == "pass" for c in shared]
            later = [by_model[model][c]["outcome"] == "pass" for c in shared]
            fixed = sum(b and not a for a, b in zip(first, later, strict=True))
            broken = sum(a and not b for a, b in zip(first, later, strict=True))
            comparisons.append(
                {
                    "file": file,
                    "suite": suite,
                    "label": (labels or {}).get(file, suite),
                    "base": base,
                    "model": model,
                    "paired_cases": len(shared),
                    "paired": paired_test(fixed, broken, alpha),
                }
            )
    return comparisons


def run_cost(summaries: Sequence[Mapping[str, Any]]) -> float | None:
    """The whole run's cost, when every suite's is known."""
    costs = [s.get("cost_usd") for s in summaries if "cost_usd" in s]
    if not costs or any(cost is None for cost in costs):
        return None
    return sum(costs)
