"""Two runs compared: the paired exact test (McNemar) beside a baseline and between models,
`--toolcall-regressions=significant`, and a failed baseline in pytest's last line."""

from __future__ import annotations

import json
import math

import pytest
from helpers import runpytest

from pytest_toolcall.report.baseline import (
    LAST_LINE_KEY,
    baseline_failed,
    baseline_verdict,
    record_regressions,
)
from pytest_toolcall.report.stats import paired_test

RIGHT_ANSWER = {"tool": "control_drone_movement", "args": {"direction": "up", "distance": 1}}
WRONG_ANSWER = {"tool": "takeoff_drone", "args": {"altitude": 1}}


def suite_of(n: int) -> str:
    cases = "".join(
        f"  - {{id: up{i}, prompt: 'up {i}', expect: {{tool: control_drone_movement, "
        f"args: {{direction: up, distance: 1}}}}}}\n"
        for i in range(n)
    )
    return f"suite: climb\ntools: tools.json\nthreshold: 0\ncases:\n{cases}"


def script(right: range | list[int], n: int, model: str | None = None) -> dict:
    return {
        ((model, f"up {i}") if model else f"up {i}"): RIGHT_ANSWER if i in right else WRONG_ANSWER
        for i in range(n)
    }


def _diff(fixed: int, broken: int) -> dict:
    return {
        "fixed": [{}] * fixed,
        "regressions": [{}] * broken,
        "paired": paired_test(fixed, broken),
    }


def test_baseline_decision_both_ways():
    assert baseline_failed(_diff(6, 2), "any") is True
    assert baseline_failed(_diff(6, 2), "significant") is False
    assert baseline_failed(_diff(0, 14), "significant") is True
    assert baseline_failed(_diff(14, 0), "significant") is False  # nothing regressed
    assert baseline_failed(_diff(0, 0), "any") is False
    with pytest.raises(ValueError, match="sometimes"):
        baseline_failed(_diff(0, 1), "sometimes")
    assert baseline_verdict(_diff(6, 2), "significant") == (
        "baseline: 2 regressed, not significantly more than fixed (+4: 6 fixed, 2 broken, "
        "p = 0.29 (not significant at 0.05)): the run does not fail on them "
        "(--toolcall-regressions=significant)"
    )
    assert baseline_verdict(_diff(0, 14), "significant") == (
        "baseline: 14 regressed, significantly (-14: 0 fixed, 14 broken, p = 0.00012 "
        "(significant at 0.05)): the run fails"
    )


def test_record_regressions_adds_them_to_the_last_line_stats():
    stats: dict = {"passed": [object()]}
    assert record_regressions(stats, _diff(1, 2)) == 2
    assert len(stats[LAST_LINE_KEY]) == 2 and LAST_LINE_KEY == "regressed"
    assert record_regressions(stats, _diff(1, 0)) == 0


def _baseline_runs(pytester, fake_openai, n, before, after, *more):
    pytester.makefile(".yaml", suite=suite_of(n))
    server = fake_openai(script(before, n))
    args = ("--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live")
    assert runpytest(pytester, *args, "--toolcall-report=baseline.json").ret == 0
    server.script = script(after, n)
    return runpytest(
        pytester, *args, "--toolcall-baseline=baseline.json", "--toolcall-report=now.json", *more
    )


def test_baseline_shows_the_paired_test_and_regressions_in_the_last_line(
    pytester, fake_openai, drone_tools
):
    result = _baseline_runs(pytester, fake_openai, 8, range(2), range(2, 8))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "baseline: 2 regressed (+4: 6 fixed, 2 broken, p = 0.29 "
            "(not significant at 0.05)): the run fails"
        ]
    )
    result.stdout.fnmatch_lines(["=*2 missed, 2 regressed*="])
    paired = json.loads((pytester.path / "now.json").read_text())["baseline"]["paired"]
    assert (paired["fixed"], paired["broken"], paired["net"]) == (6, 2, 4)
    assert math.isclose(paired["p_value"], 74 / 256) and paired["significant"] is False


def test_significant_mode_lets_noise_pass_and_says_so(pytester, fake_openai, drone_tools):
    result = _baseline_runs(
        pytester, fake_openai, 8, range(2), range(2, 8), "--toolcall-regressions=significant"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "baseline: 2 regressed, not significantly more than fixed (+4: 6 fixed, 2 broken, "
            "p = 0.29 (not significant at 0.05)): the run does not fail on them "
            "(--toolcall-regressions=significant)"
        ]
    )
    assert "regressed" not in result.stdout.lines[-1]


def test_significant_mode_fails_on_significant_regressions(pytester, fake_openai, drone_tools):
    result = _baseline_runs(
        pytester, fake_openai, 14, range(14), [], "--toolcall-regressions=significant"
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "baseline: 14 regressed, significantly (-14: 0 fixed, 14 broken, p = 0.00012 "
            "(significant at 0.05)): the run fails",
        ]
    )
    result.stdout.fnmatch_lines(["=*14 regressed*="])
    paired = json.loads((pytester.path / "now.json").read_text())["baseline"]["paired"]
    assert math.isclose(paired["p_value"], 2 / 16384) and paired["significant"] is True


def test_models_side_by_side_with_the_paired_test(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=suite_of(8))
    server = fake_openai({**script(range(2), 8, "base"), **script(range(2, 8), 8, "ft")})
    result = runpytest(
        pytester,
        "--model=base",
        "--model=ft",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-live",
        "--toolcall-report=report.json",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "paired exact test (McNemar) on the cases two models disagree on",
            "*climb*base -> ft*+4: 6 fixed, 2 broken, p = 0.29 (not significant at 0.05)*",
        ]
    )
    (comparison,) = json.loads((pytester.path / "report.json").read_text())["comparisons"]
    assert (comparison["base"], comparison["model"], comparison["paired_cases"]) == (
        "base",
        "ft",
        8,
    )
    assert math.isclose(comparison["paired"]["p_value"], 74 / 256)
