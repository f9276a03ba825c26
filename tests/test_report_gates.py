"""Gates: unanswered cases count as not passed; messages name the number they gate on."""

from __future__ import annotations

from helpers import runpytest
from test_reports import RIGHT, SUITE

from pytest_toolcall.report.gates import gate_failure_text, gate_record
from pytest_toolcall.report.summary import build_sections


def record(case: str, *outcomes: str, tags: tuple[str, ...] = ()) -> dict:
    passes = outcomes.count("pass")
    return {
        "suite": "drone",
        "file": "suite.yaml",
        "model": "m",
        "case": case,
        "prompt": f"prompt of {case}",
        "tags": list(tags),
        "expected": {"tool": "land_drone"},
        "outcome": "pass" if passes == len(outcomes) else min(outcomes),
        "detail": "no recording for case" if "error" in outcomes else "",
        "actual": [],
        "text": None,
        "samples": len(outcomes),
        "passes": passes,
        "sample_outcomes": list(outcomes),
        "latency_ms": [],
        "total_tokens": [],
    }


def test_unanswered_cases_count_as_not_passed():
    records = [record("a", "pass"), record("b", "error"), record("c", "error")]
    gate = gate_record(records, threshold=0.5, tag_thresholds={})
    assert gate["passed"] is False  # 1/3, not 1/1
    check = gate["gates"]["all"]
    assert (check["passes"], check["samples"], check["unanswered_cases"]) == (1, 3, 2)
    text = gate_failure_text("drone", "m", gate, records)
    assert text.splitlines()[0] == (
        "drone [m]: accuracy 33% (1/3) is below the threshold 50%; "
        "2 of 3 cases have no answer and count as not passed"
    )
    assert "no answer:\n  b: no recording for case" in text
    # what could be judged still decides when it is enough whatever the rest would say
    assert gate_record(records, threshold=0.3, tag_thresholds={})["passed"] is True


def test_unanswered_samples_with_repeats_and_a_tag():
    records = [
        record("a", "pass", "pass", "error", tags=("x",)),
        record("b", "pass", "pass", "pass"),
    ]
    gate = gate_record(records, threshold=0.5, tag_thresholds={"x": 0.9})
    assert gate["gates"]["all"]["passed"] and not gate["passed"]
    assert gate_failure_text("drone", "m", gate, records).splitlines()[0] == (
        "drone [m]: accuracy of tag 'x' 67% (2/3) is below the threshold 90%; "
        "1 of 3 samples (1 of 1 cases) have no answer and count as not passed"
    )


def test_nothing_answered_fails_even_at_threshold_zero():
    records = [record("a", "error")]
    gate = gate_record(records, threshold=0.0, tag_thresholds={})
    assert gate["passed"] is False
    assert gate_failure_text("drone", "m", gate, records).startswith(
        "drone [m]: accuracy: no case was answered (1 of 1 cases have no answer"
    )


def test_lower_bound_message_names_the_bound_it_gates_on():
    records = [record(f"c{i}", "pass") for i in range(26)] + [
        record(f"m{i}", "wrong_args") for i in range(4)
    ]
    gate = gate_record(records, threshold=0.8, tag_thresholds={}, use_lower_bound=True)
    assert gate["passed"] is False and gate["gates"]["all"]["gated_on"] == "lower_bound"
    assert gate_failure_text("drone", "m", gate, records).splitlines()[0] == (
        "drone [m]: lower bound 70% of accuracy 87% (26/30, 95% Wilson, n=30) "
        "is below the threshold 80%"
    )
    plain = gate_record(records, threshold=0.8, tag_thresholds={})
    assert plain["passed"] is True  # 87% >= 80% on plain accuracy


def test_a_threshold_the_lower_bound_cannot_reach_says_so():
    records = [record(f"c{i}", "pass") for i in range(30)]
    gate = gate_record(records, threshold=1.0, tag_thresholds={}, use_lower_bound=True)
    check = gate["gates"]["all"]
    assert gate["passed"] is False and check["reachable"] is False
    assert gate_failure_text("drone", "m", gate, records).splitlines()[0] == (
        "drone [m]: lower bound 89% of accuracy 100% (30/30, 95% Wilson, n=30) is below the "
        "threshold 100%: this threshold cannot be reached on the lower bound; with n=30 it is "
        "at most 89% even if every sample passes (lower the threshold, add cases or repeats, "
        "or gate on plain accuracy)"
    )
    summary = {
        "suite": "drone",
        "label": "drone",
        "file": "suite.yaml",
        "model": "m",
        "passes": 30,
        "judged": 30,
        "errors": 0,
        "accuracy": 1.0,
        "interval": None,
        "repeated": False,
        "gate": gate,
        "p50_ms": None,
        "p95_ms": None,
        "mean_tokens": None,
    }
    figures, warning, *_ = build_sections([summary], records)
    assert figures.rows[0][4] == ">=100% FAIL (unreachable)"
    assert warning.title == (
        "warning: the gate of drone [m] cannot pass: threshold 100% on the lower bound, "
        "which is at most 89% with n=30"
    )
    reachable = gate_record(records, threshold=0.85, tag_thresholds={}, use_lower_bound=True)
    assert reachable["passed"] is True


def test_gate_with_unanswered_cases_fails_the_run(pytester, fake_openai, drone_tools):
    """Issue 13 item 8: `-k gate` with 2 of 3 cases never recorded exited 0 (1/1 judged)."""
    pytester.makefile(".yaml", suite=SUITE.format(threshold=0.5))
    server = fake_openai(RIGHT)
    recorded = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--record-mode=once",
        "-k",
        "land",
    )
    assert recorded.ret == 0
    result = runpytest(pytester, "--model=m", "-k", "gate")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*drone [[]m[]]: accuracy 33% (1/3) is below the threshold 50%; "
            "2 of 3 cases have no answer and count as not passed*",
        ]
    )
    result.stdout.fnmatch_lines(["*drone*m*1/1 (2 err)*>=50% FAIL*"])
    assert len(server.requests) == 1


def test_lower_bound_gate_failure_names_the_bound(pytester, fake_openai, drone_tools):
    """Issue 13 item 9: the failure printed the plain accuracy, not the bound it gated on."""
    pytester.makefile(".yaml", suite=SUITE.format(threshold=0.6))
    takeoff = RIGHT["Take off to 50 meters"]
    flaky = [takeoff, {"tool": "takeoff_drone", "args": {"altitude": 5}}, takeoff]
    server = fake_openai({**RIGHT, "Take off to 50 meters": flaky})
    args = ("--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-repeat=3")
    result = runpytest(
        pytester,
        *args,
        "--record-mode=once",
        "--toolcall-concurrency=1",
        "--toolcall-gate-lower-bound",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*drone [[]m[]]: lower bound 57% of accuracy 89% (8/9, 95% Wilson, n=9) "
            "is below the threshold 60%*"
        ]
    )


def test_unreachable_threshold_on_the_lower_bound_is_explained(pytester, fake_openai, drone_tools):
    """Issue 13 item 9: a threshold of 1.0 can never pass on the lower bound; say so."""
    pytester.makefile(".yaml", suite=SUITE.format(threshold=1.0))
    server = fake_openai(RIGHT)
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-live",
        "--toolcall-gate-lower-bound",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*drone*m*3/3*>=100% FAIL (unreachable)*",
            "warning: the gate of drone [[]m[]] cannot pass: threshold 100% on the lower bound, "
            "which is at most 44% with n=3",
        ]
    )
    result.stdout.fnmatch_lines(["*this threshold cannot be reached on the lower bound*"])
