"""With repeats: pass@k and pass^k per case and suite, flaky cases listed; cost rendering."""

from __future__ import annotations

import json
import math

from helpers import runpytest
from test_reports import RIGHT, SUITE, WRONG_TAKEOFF

from pytest_toolcall.report.records import suite_summaries
from pytest_toolcall.report.summary import build_sections, to_markdown


def test_pass_at_k_pass_hat_k_and_flaky_cases(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=SUITE.format(threshold=0.5))
    takeoff = RIGHT["Take off to 50 meters"]
    elephant = RIGHT["Turn into an elephant!"]
    server = fake_openai(
        {
            **RIGHT,
            # samples differ: takeoff passes 2 of 3 times, elephant never
            "Take off to 50 meters": [takeoff, WRONG_TAKEOFF, takeoff],
            "Turn into an elephant!": [{"text": "no"}, {"text": "no"}, {"text": "no"}, elephant],
        }
    )
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-live",
        "--toolcall-repeat=3",
        "--toolcall-concurrency=1",
        "--toolcall-report=report.json",
        "--toolcall-markdown=summary.md",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*suite*model*pass*acc*pass@3*pass^3*gate*",
            "*drone*m*5/9*56% [[]27%-81%[]]*67%*33%*>=50% PASS*",
            "flaky (drone)",
            "*takeoff*2/3*pass wrong_args pass*",
        ]
    )
    report = json.loads((pytester.path / "report.json").read_text())
    (suite,) = report["suites"]
    assert suite["k"] == 3 and suite["flaky"] == ["takeoff"]
    assert math.isclose(suite["pass_at_k"], 2 / 3) and math.isclose(suite["pass_hat_k"], 1 / 3)
    cases = {c["case"]: c for c in report["cases"]}
    assert (cases["land"]["pass_at_k"], cases["land"]["pass_hat_k"]) == (1.0, 1.0)
    assert (cases["takeoff"]["pass_at_k"], cases["takeoff"]["pass_hat_k"]) == (1.0, 0.0)
    assert (cases["elephant"]["pass_at_k"], cases["elephant"]["pass_hat_k"]) == (0.0, 0.0)
    markdown = (pytester.path / "summary.md").read_text()
    assert "| suite | model | pass | acc | pass@3 | pass^3 | gate |" in markdown
    assert "### flaky (drone)" in markdown


def _record(model: str, case: str, prompt_tokens: list[int], completion_tokens: list[int]):
    return {
        "suite": "drone",
        "file": "suite.yaml",
        "model": model,
        "case": case,
        "tags": [],
        "outcome": "pass",
        "samples": len(prompt_tokens),
        "passes": len(prompt_tokens),
        "sample_outcomes": ["pass"] * len(prompt_tokens),
        "latency_ms": [],
        "total_tokens": [],
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
    }


def test_cost_per_suite_and_run_from_prices():
    records = [
        _record("cheap", "a", [2_000_000], [1_000_000]),
        _record("dear", "a", [1_000_000], [100_000]),
    ]
    prices = {"cheap": (0.15, 0.60), "dear": (2.5, 10.0)}
    summaries = suite_summaries(records, {}, prices=prices)
    assert [round(s["cost_usd"], 6) for s in summaries] == [0.9, 3.5]
    sections = build_sections(summaries, records)
    assert sections[0].header[-1] == "cost"
    assert [row[-1] for row in sections[0].rows] == ["$0.90", "$3.50"]
    assert sections[1].title == "cost of the run: $4.40"
    assert "## toolcall" in to_markdown(sections)
    unpriced = suite_summaries(records, {}, prices={"cheap": (0.15, 0.60)})
    assert unpriced[1]["cost_usd"] is None
    assert build_sections(unpriced, records)[1].title == "cost of the run: -"
    assert "cost_usd" not in suite_summaries(records, {})[0]  # no prices: no cost column
    assert build_sections(suite_summaries(records, {}), records)[0].header[-1] == "tokens"
