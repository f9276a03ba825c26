"""Plain, JSON-ready records of case results and the arithmetic of gates.

Records travel on pytest reports (so pytest-xdist carries them to the controller) and
feed the terminal summary, the JSON report and the Markdown output alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_toolcall.runner import CaseResult

WILSON_Z_95 = 1.959964


def case_record(result: CaseResult, *, suite: str, file: str, nodeid: str) -> dict[str, Any]:
    """Everything worth reporting about one case x model."""
    verdict = result.verdict
    shown = next(
        (s for s in result.samples if s.verdict.outcome is verdict.outcome), result.samples[0]
    )
    latencies = [s.answer.latency_ms for s in result.samples if s.answer.latency_ms is not None]
    tokens = [s.answer.total_tokens for s in result.samples if s.answer.total_tokens is not None]
    return {
        "suite": suite,
        "file": file,
        "nodeid": nodeid,
        "model": result.model,
        "case": result.case.id,
        "prompt": result.case.prompt,
        "tags": list(result.case.tags),
        "expected": result.case.expect,
        "outcome": verdict.outcome.value,
        "detail": verdict.detail,
        "actual": [{"name": c.name, "arguments": c.arguments} for c in shown.answer.calls],
        "text": shown.answer.text,
        "samples": len(result.samples),
        "passes": result.passes,
        "sample_outcomes": [s.verdict.outcome.value for s in result.samples],
        "latency_ms": latencies,
        "total_tokens": tokens,
        "request_hash": result.request_hash,
    }


@dataclass(frozen=True)
class Tally:
    """Passed samples out of judged samples (errors are not judged), with errors counted aside."""

    passes: int
    judged: int
    errors: int

    @property
    def accuracy(self) -> float | None:
        return self.passes / self.judged if self.judged else None

    def interval(self) -> tuple[float, float] | None:
        """95% Wilson score interval of the accuracy."""
        if not self.judged:
            return None
        n, p, z = self.judged, self.passes / self.judged, WILSON_Z_95
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)


def tally(records: Iterable[Mapping[str, Any]]) -> Tally:
    passes = judged = errors = 0
    for record in records:
        outcomes = record["sample_outcomes"]
        errors += outcomes.count("error")
        judged += len(outcomes) - outcomes.count("error")
        passes += outcomes.count("pass")
    return Tally(passes, judged, errors)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (`share` in 0..1)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


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
    gates = {}
    for name, (subset, needed) in checks.items():
        counted = tally(subset)
        interval = counted.interval()
        score = interval[0] if use_lower_bound and interval else counted.accuracy
        gates[name] = {
            "passes": counted.passes,
            "judged": counted.judged,
            "errors": counted.errors,
            "accuracy": counted.accuracy,
            "interval": list(interval) if interval else None,
            "threshold": needed,
            "passed": score is not None and score >= needed - 1e-12,
        }
    return {"passed": all(g["passed"] for g in gates.values()), "gates": gates}


def format_call(name: str, arguments: str) -> str:
    """`land_drone {"location": "home_base"}`, compact and single-line."""
    try:
        args = json.dumps(json.loads(arguments), ensure_ascii=False, separators=(", ", ": "))
    except ValueError:
        args = arguments
    return name if args in ("{}", "") else f"{name} {args}"


def format_expected(expect: Mapping[str, Any]) -> str:
    """One line for what a case expects."""
    if expect.get("no_call"):
        return "no call"
    if "any_of" in expect:
        return " | ".join(format_expected(option) for option in expect["any_of"])
    calls = expect.get("calls") or [expect]
    return " + ".join(
        format_call(call["tool"], json.dumps(call.get("args", {}), ensure_ascii=False))
        for call in calls
    )


def format_actual(record: Mapping[str, Any]) -> str:
    """One line for what the model answered."""
    if record["outcome"] == "error":
        return "no answer"
    if record["actual"]:
        return " + ".join(format_call(c["name"], c["arguments"]) for c in record["actual"])
    text = (record.get("text") or "").strip().replace("\n", " ")
    return f"text {text[:60]!r}" if text else "nothing"


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
