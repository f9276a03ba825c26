"""Issue 13 item 7: a suite is its case file; two files with one `suite:` name stay two."""

from __future__ import annotations

import json

from helpers import runpytest
from test_reports import RIGHT, SUITE, WRONG_TAKEOFF

from pytest_toolcall.report.baseline import compare
from pytest_toolcall.report.records import suite_summaries

PLEASE = {f"{prompt} please": answer for prompt, answer in RIGHT.items()}


def _entry(file: str, case: str, outcome: str) -> dict:
    return {"suite": "drone", "file": file, "model": "m", "case": case, "outcome": outcome}


def test_compare_matches_cases_by_file_and_id():
    before = {"cases": [_entry("a.yaml", "land", "pass"), _entry("b.yaml", "land", "pass")]}
    now = [_entry("a.yaml", "land", "pass"), _entry("b.yaml", "land", "no_call")]
    diff = compare(before, now)
    assert [(r["file"], r["case"]) for r in diff["regressions"]] == [("b.yaml", "land")]
    assert diff["new"] == diff["removed"] == diff["fixed"] == []


def test_summaries_group_by_file_and_name_files_that_share_a_suite_name():
    def record(file: str, outcome: str) -> dict:
        return {
            **_entry(file, "land", outcome),
            "tags": [],
            "samples": 1,
            "passes": int(outcome == "pass"),
            "sample_outcomes": [outcome],
            "latency_ms": [],
            "total_tokens": [],
        }

    gates = {("a.yaml", "m"): {"passed": True}, ("b.yaml", "m"): {"passed": False}}
    summaries = suite_summaries(
        [record("a.yaml", "pass"), record("b.yaml", "no_call"), record("c.yaml", "pass")], gates
    )
    assert [(s["file"], s["label"], s["passes"]) for s in summaries] == [
        ("a.yaml", "drone (a.yaml)", 1),
        ("b.yaml", "drone (b.yaml)", 0),
        ("c.yaml", "drone (c.yaml)", 1),
    ]
    assert [s["gate"] for s in summaries] == [{"passed": True}, {"passed": False}, None]


def test_two_files_with_one_suite_name_are_two_suites(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", a=SUITE.format(threshold=0.5))
    b = SUITE.format(threshold=0.5).replace("\n    expect", " please\n    expect")
    pytester.makefile(".yaml", b=b)
    server = fake_openai(RIGHT)  # b's prompts are not scripted: plain text, all missed
    args = ("--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live")
    first = runpytest(pytester, *args, "--toolcall-report=baseline.json")
    assert first.ret == 1  # b's gate fails
    first.stdout.fnmatch_lines(
        ["*drone (a.yaml)*m*3/3*100%*>=50% PASS*", "*drone (b.yaml)*m*0/3*0%*>=50% FAIL*"]
    )
    first.stdout.fnmatch_lines(["misses (drone (b.yaml))"])
    report = json.loads((pytester.path / "baseline.json").read_text())
    assert sorted((c["file"], c["case"]) for c in report["cases"]) == [
        ("a.yaml", "elephant"),
        ("a.yaml", "land"),
        ("a.yaml", "takeoff"),
        ("b.yaml", "elephant"),
        ("b.yaml", "land"),
        ("b.yaml", "takeoff"),
    ]
    assert [(s["file"], s["passes"], s["gate"]["passed"]) for s in report["suites"]] == [
        ("a.yaml", 3, True),
        ("b.yaml", 0, False),
    ]

    server.script.update({**PLEASE, "Take off to 50 meters": WRONG_TAKEOFF})
    second = runpytest(pytester, *args, "--toolcall-baseline=baseline.json")
    assert second.ret == 1  # gates hold (2/3, 3/3); a.yaml's regression fails the run
    second.stdout.fnmatch_lines(
        [
            "regressions (passed in the baseline, not now)",
            "*takeoff*drone (a.yaml)*m*pass*wrong_args*",
            "fixed since the baseline",
            "*drone (b.yaml)*m*pass*",
        ]
    )
