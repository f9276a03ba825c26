"""Plain, JSON-ready records of case results and the per suite x model summaries.

Records travel on pytest reports (so pytest-xdist carries them to the controller) and
feed the terminal summary, the JSON report and the Markdown output alike. A suite is
identified by its case file (`record["file"]`, relative to the rootdir), not by its
`suite:` name: two files may share a name and are still two suites.

Gates live in `gates`, the arithmetic in `stats`, one-line renderings in `formatting`;
the names below are re-exported so older imports keep working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_toolcall.report.cost import Prices, records_cost
from pytest_toolcall.report.formatting import (
    expected_calls,
    format_actual,
    format_call,
    format_expected,
    shorten,
)
from pytest_toolcall.report.gates import gate_failure_text, gate_record
from pytest_toolcall.report.stats import (
    WILSON_Z_95,
    Tally,
    pass_at_k,
    pass_hat_k,
    percentile,
    tally,
)

if TYPE_CHECKING:
    from pytest_toolcall.answering import CaseResult

__all__ = [
    "WILSON_Z_95",
    "Tally",
    "case_record",
    "confusions",
    "disagreements",
    "expected_tools",
    "format_actual",
    "format_call",
    "format_expected",
    "gate_failure_text",
    "gate_record",
    "percentile",
    "shorten",
    "suite_key",
    "suite_summaries",
    "tally",
    "tool_scores",
]

NO_CALL_LABEL = "(no call)"
TOOL_STATS_MIN_CASES = 20  # per-tool scores and confusions are noise on smaller suites


def case_record(
    result: CaseResult,
    *,
    suite: str,
    file: str,
    nodeid: str,
    mask: Callable[[str], str] = str,
) -> dict[str, Any]:
    """Everything worth reporting about one case x model.

    `mask` (a `Redactor(...).mask`) is applied to every string that comes from the answer
    (call names and arguments, text, the verdict's detail), so a model that echoes a
    credential does not put it in the terminal, Markdown, JUnit or JSON.
    """
    verdict = result.verdict
    shown = next(
        (s for s in result.samples if s.verdict.outcome is verdict.outcome), result.samples[0]
    )
    answers = [s.answer for s in result.samples]
    record: dict[str, Any] = {
        "suite": suite,
        "file": file,
        "nodeid": nodeid,
        "model": result.model,
        "api": getattr(result.case, "api", "chat"),  # the API the case was sent to
        "case": result.case.id,
        "prompt": result.case.prompt,
        "tags": list(result.case.tags),
        "expected": result.case.expect,
        "outcome": verdict.outcome.value,
        "detail": mask(verdict.detail),
        "actual": [
            {"name": mask(c.name), "arguments": mask(c.arguments)} for c in shown.answer.calls
        ],
        "text": mask(shown.answer.text) if shown.answer.text is not None else None,
        "samples": len(result.samples),
        "passes": result.passes,
        "sample_outcomes": [s.verdict.outcome.value for s in result.samples],
        "latency_ms": [a.latency_ms for a in answers if a.latency_ms is not None],
        "total_tokens": [a.total_tokens for a in answers if a.total_tokens is not None],
        "request_hash": result.request_hash,
    }
    if shown.steps:  # an agent case: every turn of the sample shown
        record["steps"] = [
            {
                "outcome": step.outcome,
                "detail": mask(step.detail),
                "actual": [
                    {"name": mask(c.name), "arguments": mask(c.arguments)} for c in step.calls
                ],
                "text": mask(step.text) if step.text is not None else None,
            }
            for step in shown.steps
        ]
    # input / output token counts, when the answer carries them (they price a run)
    for field in ("prompt_tokens", "completion_tokens"):
        counts = [getattr(a, field, None) for a in answers]
        if any(count is not None for count in counts):
            record[field] = [count for count in counts if count is not None]
    if len(result.samples) > 1:
        n, k = len(result.samples), len(result.samples)
        record["pass_at_k"] = pass_at_k(n, result.passes, k)
        record["pass_hat_k"] = pass_hat_k(n, result.passes, k)
    return record


def suite_key(record: Mapping[str, Any]) -> tuple[str, str]:
    """What identifies a suite x model: the case file and the model."""
    return record.get("file") or record["suite"], record["model"]


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


def _option_tools(option: Mapping[str, Any]) -> list[str]:
    return [call["tool"] for call in expected_calls(option)]


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


def suite_labels(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """How to name each case file's suite: its `suite:` name, plus the file when another
    file has the same name."""
    names: dict[str, str] = {}
    for record in records:
        names.setdefault(record.get("file") or record["suite"], record["suite"])
    shared = {name for name in names.values() if list(names.values()).count(name) > 1}
    return {file: f"{name} ({file})" if name in shared else name for file, name in names.items()}


def suite_summaries(
    case_records: Iterable[Mapping[str, Any]],
    gate_records: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    prices: Prices | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready summary per case file x model, in the order the suites ran.

    `gate_records` are keyed by (file, model); a (suite name, model) key is still read.
    """
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in case_records:
        grouped.setdefault(suite_key(record), []).append(record)
    labels = suite_labels(r for records in grouped.values() for r in records)
    summaries = []
    for (file, model), records in grouped.items():
        suite = records[0]["suite"]
        counted = tally(records)
        latencies = [ms for r in records for ms in r["latency_ms"]]
        tokens = [t for r in records for t in r["total_tokens"]]
        repeated = any(r["samples"] > 1 for r in records)
        summary: dict[str, Any] = {
            "suite": suite,
            "label": labels[file],
            "model": model,
            "api": _suite_api(records),
            "file": records[0].get("file"),
            "cases": len(records),
            "samples": counted.judged + counted.errors,
            "passes": counted.passes,
            "judged": counted.judged,
            "errors": counted.errors,
            "accuracy": counted.accuracy,
            "interval": list(interval) if (interval := counted.interval()) else None,
            "repeated": repeated,
            "gate": gate_records.get((file, model), gate_records.get((suite, model))),
            "p50_ms": percentile(latencies, 0.50),
            "p95_ms": percentile(latencies, 0.95),
            "mean_tokens": sum(tokens) / len(tokens) if tokens else None,
            "misses": [r["case"] for r in records if r["outcome"] not in ("pass", "error")],
        }
        if repeated:
            summary.update(_repeats(records))
        if prices is not None:
            summary["cost_usd"] = records_cost(records, prices)
        if len(records) >= TOOL_STATS_MIN_CASES:
            summary["tools"] = tool_scores(records)
            summary["confusions"] = [
                {"expected": e, "actual": a, "count": n} for e, a, n in confusions(records)
            ]
        summaries.append(summary)
    return summaries


def _suite_api(records: Sequence[Mapping[str, Any]]) -> str:
    """The API a suite's cases were sent to: "chat", "responses", or "mixed"."""
    apis = {record.get("api", "chat") for record in records}
    return apis.pop() if len(apis) == 1 else "mixed"


def _repeats(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """pass@k and pass^k over the suite's cases (k = the repeat count; an unanswered sample
    counts as not passed), and the flaky cases: some samples pass, some miss."""
    k = max(r["samples"] for r in records)
    full = [r for r in records if r["samples"] == k]
    flaky = [
        r["case"]
        for r in records
        if 0 < r["passes"] < r["samples"]
        and any(o not in ("pass", "error") for o in r["sample_outcomes"])
    ]
    return {
        "k": k,
        "pass_at_k": sum(pass_at_k(k, r["passes"], k) for r in full) / len(full),
        "pass_hat_k": sum(pass_hat_k(k, r["passes"], k) for r in full) / len(full),
        "flaky": flaky,
    }
