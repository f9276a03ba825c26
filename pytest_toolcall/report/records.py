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
NO_CALL_LABEL = "(no call)"
TOOL_STATS_MIN_CASES = 20  # per-tool scores and confusions are noise on smaller suites


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
    return " + ".join(
        format_call(call["tool"], json.dumps(call.get("args", {}), ensure_ascii=False))
        for call in _calls(expect)
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


def expected_tools(record: Mapping[str, Any]) -> list[str]:
    """Tool names the case expects (for `any_of`, the alternative the answer matched, if any)."""
    expect = record["expected"]
    options = expect.get("any_of") or [expect]
    actual = sorted(call["name"] for call in record["actual"])
    for option in options:
        names = _option_tools(option)
        if record["outcome"] == "pass" and sorted(names) == actual:
            return names
    return _option_tools(options[0])


def _calls(option: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The expected calls of one expectation form (none for `no_call`)."""
    if option.get("no_call"):
        return []
    return option.get("calls") or [option]


def _option_tools(option: Mapping[str, Any]) -> list[str]:
    return [call["tool"] for call in _calls(option)]


def tool_scores(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float | int]]:
    """Per tool: true/false positives, false negatives, precision and recall by tool name."""
    counts: dict[str, dict[str, int]] = {}
    for record in records:
        if record["outcome"] == "error":
            continue
        expected = expected_tools(record)
        actual = [call["name"] for call in record["actual"]]
        for name in set(expected) | set(actual):
            hit = min(expected.count(name), actual.count(name))
            tool = counts.setdefault(name, {"tp": 0, "fp": 0, "fn": 0})
            tool["tp"] += hit
            tool["fp"] += actual.count(name) - hit
            tool["fn"] += expected.count(name) - hit
    return {
        name: {
            **c,
            "precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else None,
            "recall": c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else None,
        }
        for name, c in sorted(counts.items())
    }


def confusions(records: Iterable[Mapping[str, Any]], most: int = 5) -> list[tuple[str, str, int]]:
    """The most frequent (expected -> actual) tool pairs among answers with the wrong tools."""
    pairs: dict[tuple[str, str], int] = {}
    for record in records:
        if record["outcome"] in ("pass", "error", "wrong_args", "invalid_args"):
            continue
        expected = " + ".join(expected_tools(record)) or NO_CALL_LABEL
        actual = " + ".join(call["name"] for call in record["actual"]) or NO_CALL_LABEL
        if expected != actual:
            pairs[expected, actual] = pairs.get((expected, actual), 0) + 1
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return [(expected, actual, count) for (expected, actual), count in ranked[:most]]


def disagreements(
    records_by_model: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> list[tuple[str, dict[str, str]]]:
    """Cases (by id) whose outcome differs between models: [(case, {model: outcome})]."""
    models = list(records_by_model)
    case_ids = dict.fromkeys(c for by_case in records_by_model.values() for c in by_case)
    rows = []
    for case_id in case_ids:
        outcomes = {
            model: records_by_model[model][case_id]["outcome"]
            if case_id in records_by_model[model]
            else "-"
            for model in models
        }
        if len({outcome == "pass" for outcome in outcomes.values()}) > 1:
            rows.append((case_id, outcomes))
    return rows


def suite_summaries(
    case_records: Iterable[Mapping[str, Any]],
    gate_records: Mapping[tuple[str, str], Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One JSON-ready summary per suite x model, in the order the suites ran."""
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in case_records:
        grouped.setdefault((record["suite"], record["model"]), []).append(record)
    summaries = []
    for (suite, model), records in grouped.items():
        counted = tally(records)
        latencies = [ms for r in records for ms in r["latency_ms"]]
        tokens = [t for r in records for t in r["total_tokens"]]
        summary: dict[str, Any] = {
            "suite": suite,
            "model": model,
            "file": records[0]["file"],
            "cases": len(records),
            "samples": counted.judged + counted.errors,
            "passes": counted.passes,
            "judged": counted.judged,
            "errors": counted.errors,
            "accuracy": counted.accuracy,
            "interval": list(interval) if (interval := counted.interval()) else None,
            "repeated": any(r["samples"] > 1 for r in records),
            "gate": gate_records.get((suite, model)),
            "p50_ms": percentile(latencies, 0.50),
            "p95_ms": percentile(latencies, 0.95),
            "mean_tokens": sum(tokens) / len(tokens) if tokens else None,
            "misses": [r["case"] for r in records if r["outcome"] not in ("pass", "error")],
        }
        if len(records) >= TOOL_STATS_MIN_CASES:
            summary["tools"] = tool_scores(records)
            summary["confusions"] = [
                {"expected": e, "actual": a, "count": n} for e, a, n in confusions(records)
            ]
        summaries.append(summary)
    return summaries
