"""Gates: whether a suite (and each gated tag) reaches its threshold, and why not.

A gate judges every sample it was given: an unanswered sample (an `error`: no recording,
a server error) counts as not passed, so a gate never passes on cases it could not judge,
and its message says how many had no answer. With `--toolcall-gate-lower-bound` the number
compared with the threshold is the 95% Wilson lower bound, and the message names it; a
threshold above the best lower bound the sample count allows (100% always is) can never
be reached, and the gate fails saying so instead of printing an ordinary miss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_toolcall.report.formatting import format_actual, format_expected
from pytest_toolcall.report.stats import tally, wilson_interval

EPSILON = 1e-12


def gate_record(
    records: Sequence[Mapping[str, Any]],
    *,
    threshold: float,
    tag_thresholds: Mapping[str, float],
    use_lower_bound: bool = False,
) -> dict[str, Any]:
    """Whether a suite (and each gated tag) reaches its threshold."""
    checks = {"all": (list(records), threshold)}
    for tag, tag_threshold in tag_thresholds.items():
        checks[f"tag:{tag}"] = ([r for r in records if tag in r["tags"]], tag_threshold)
    gates = {
        name: _check(subset, needed, use_lower_bound) for name, (subset, needed) in checks.items()
    }
    return {"passed": all(g["passed"] for g in gates.values()), "gates": gates}


def _check(
    records: Sequence[Mapping[str, Any]], needed: float, use_lower_bound: bool
) -> dict[str, Any]:
    counted = tally(records)
    samples = counted.judged + counted.errors  # unanswered samples count as not passed
    accuracy = counted.passes / samples if samples else None
    interval = wilson_interval(counted.passes, samples)
    best = wilson_interval(samples, samples)  # the lower bound if every sample passed
    reachable = not use_lower_bound or (best is not None and best[0] >= needed - EPSILON)
    score = interval[0] if use_lower_bound and interval else accuracy
    return {
        "passes": counted.passes,
        "judged": counted.judged,
        "errors": counted.errors,
        "samples": samples,
        "cases": len(records),
        "unanswered_cases": sum("error" in r["sample_outcomes"] for r in records),
        "repeated": any(len(r["sample_outcomes"]) > 1 for r in records),
        "accuracy": accuracy,
        "interval": list(interval) if interval else None,
        "gated_on": "lower_bound" if use_lower_bound else "accuracy",
        "score": score,
        "threshold": needed,
        "reachable": reachable,
        "best_lower_bound": best[0] if use_lower_bound and best else None,
        "passed": counted.judged > 0 and score is not None and score >= needed - EPSILON,
    }


def check_failure_text(what: str, check: Mapping[str, Any]) -> str:
    """Why one check fails, naming the number it gates on."""
    unanswered = _unanswered(check)
    if not check["judged"]:
        return f"{what}: no case was answered" + (f" ({unanswered})" if unanswered else "")
    needed = check["threshold"]
    counts = f"{check['passes']}/{check['samples']}"
    if check["gated_on"] == "lower_bound":
        low = check["interval"][0]
        text = (
            f"lower bound {low:.0%} of {what} {check['accuracy']:.0%} ({counts}, 95% Wilson, "
            f"n={check['samples']}) is below the threshold {needed:.0%}"
        )
        if not check["reachable"]:
            text += (
                f": this threshold cannot be reached on the lower bound; with n={check['samples']}"
                f" it is at most {check['best_lower_bound']:.0%} even if every sample passes"
                " (lower the threshold, add cases or repeats, or gate on plain accuracy)"
            )
    else:
        text = f"{what} {check['accuracy']:.0%} ({counts}) is below the threshold {needed:.0%}"
    return text + (f"; {unanswered}" if unanswered else "")


def _unanswered(check: Mapping[str, Any]) -> str:
    if not check["errors"]:
        return ""
    if check["repeated"]:
        return (
            f"{check['errors']} of {check['samples']} samples "
            f"({check['unanswered_cases']} of {check['cases']} cases) have no answer "
            "and count as not passed"
        )
    return (
        f"{check['unanswered_cases']} of {check['cases']} cases have no answer "
        "and count as not passed"
    )


def gate_failure_text(
    suite: str, model: str, gate: Mapping[str, Any], records: Sequence[Mapping[str, Any]]
) -> str:
    """The gate item's failure message: each failing check, then the misses."""
    lines = []
    for name, check in gate["gates"].items():
        if check["passed"]:
            continue
        what = "accuracy" if name == "all" else f"accuracy of tag '{name[4:]}'"
        lines.append(f"{suite} [{model}]: {check_failure_text(what, check)}")
    misses = [r for r in records if r["outcome"] not in ("pass", "error")]
    if misses:
        lines.append("misses:")
        for record in misses:
            lines.append(
                f"  {record['case']}: {record['prompt']!r}\n"
                f"    expected {format_expected(record['expected'])}\n"
                f"    got      {format_actual(record)}  ({record['outcome']}: {record['detail']})"
            )
    unanswered = [r for r in records if r["outcome"] == "error"]
    if unanswered:
        lines.append("no answer:")
        lines.extend(f"  {record['case']}: {record['detail']}" for record in unanswered)
    return "\n".join(lines)


def gate_cell(gate: Mapping[str, Any] | None) -> tuple[str, bool | None]:
    """The summary table's gate cell (`>=80% FAIL`) and whether the gate passed."""
    if gate is None:
        return "-", None
    check = gate["gates"]["all"]
    text = f">={check['threshold']:.0%} {'PASS' if gate['passed'] else 'FAIL'}"
    if check.get("gated_on") == "lower_bound":
        text += " (lower bound)" if check.get("reachable", True) else " (unreachable)"
    return text, gate["passed"]
