"""Reports for CI: JSON, baseline regressions, model comparison, repeats, Markdown, JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from helpers import runpytest

SUITE = """\
suite: drone
tools: tools.json
tool_choice: required
threshold: {threshold}
cases:
  - id: land
    prompt: Land the drone at the home base
    expect: {{tool: land_drone, args: {{location: home_base}}}}
  - id: takeoff
    prompt: Take off to 50 meters
    expect: {{tool: takeoff_drone, args: {{altitude: 50}}}}
  - id: elephant
    prompt: Turn into an elephant!
    expect: {{tool: reject_request}}
    tags: [rejects]
"""

RIGHT = {
    "Land the drone at the home base": {"tool": "land_drone", "args": {"location": "home_base"}},
    "Take off to 50 meters": {"tool": "takeoff_drone", "args": {"altitude": 50}},
    "Turn into an elephant!": {"tool": "reject_request"},
}
WRONG_TAKEOFF = {"tool": "takeoff_drone", "args": {"altitude": 5}}


def live(pytester, server, *args):
    return runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live", *args
    )


def test_json_report_has_every_case_suite_gate_and_option(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=SUITE.format(threshold=0.5))
    server = fake_openai({**RIGHT, "Take off to 50 meters": WRONG_TAKEOFF})
    live(pytester, server, "--toolcall-report=out/report.json")
    report = json.loads((pytester.path / "out" / "report.json").read_text())
    assert report["format"] == "pytest-toolcall-report" and report["version"] == 1
    assert report["models"] == ["m"]
    assert report["options"]["concurrency"] == 8 and report["options"]["live"] is True
    cases = {case["case"]: case for case in report["cases"]}
    takeoff = cases["takeoff"]
    assert takeoff["outcome"] == "wrong_args"
    assert takeoff["detail"] == "args.altitude: expected 50, got 5"
    assert takeoff["expected"] == {"tool": "takeoff_drone", "args": {"altitude": 50}}
    assert takeoff["actual"] == [{"name": "takeoff_drone", "arguments": '{"altitude": 5}'}]
    assert takeoff["latency_ms"][0] > 0 and takeoff["total_tokens"][0] > 10
    assert len(takeoff["request_hash"]) == 64
    assert takeoff["nodeid"] == "suite.yaml::takeoff"
    (suite,) = report["suites"]
    assert (suite["passes"], suite["judged"], suite["errors"]) == (2, 3, 0)
    assert abs(suite["accuracy"] - 2 / 3) < 1e-9
    low, high = suite["interval"]
    assert 0.2 < low < 2 / 3 < high < 1.0
    assert suite["gate"]["passed"] is True and suite["gate"]["gates"]["all"]["threshold"] == 0.5


def test_baseline_regression_fails_the_run_and_lists_changes(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=SUITE.format(threshold=0.5))
    server = fake_openai(
        {**RIGHT, "Turn into an elephant!": {"tool": "land_drone", "args": {"location": "current"}}}
    )
    first = live(pytester, server, "--toolcall-report=baseline.json")
    assert first.ret == 0

    suite = SUITE.format(threshold=0.5).replace("id: land\n", "id: land-home\n")
    suite += "  - id: photo\n    prompt: Take a photo\n    expect: {tool: control_camera}\n"
    pytester.makefile(".yaml", suite=suite.replace("- id: elephant", "- id: elephant-x"))
    server.script.update(
        {
            "Take off to 50 meters": WRONG_TAKEOFF,
            "Turn into an elephant!": {"tool": "reject_request"},
            "Take a photo": {"tool": "control_camera", "args": {"mode": "photo"}},
        }
    )
    second = live(pytester, server, "--toolcall-baseline=baseline.json")
    assert second.ret == 1  # the gate holds (3/4), the regression alone fails the run
    second.stdout.fnmatch_lines(
        [
            "regressions (passed in the baseline, not now)",
            "*takeoff*drone*m*pass*wrong_args*",
            "fixed since the baseline",
            "*elephant-x*drone*m*wrong_tool*pass*",
            "new cases (not in the baseline)",
            "*photo*",
            "renamed since the baseline (same request)",
            "*land*land-home*",
        ]
    )


def test_baseline_that_cannot_be_used_is_a_clear_usage_error(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=SUITE.format(threshold=0.5))
    server = fake_openai(RIGHT)
    (pytester.path / "old.json").write_text(
        json.dumps({"format": "pytest-toolcall-report", "version": 0, "cases": []})
    )
    result = live(pytester, server, "--toolcall-baseline=old.json")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--toolcall-baseline: baseline old.json is report version 0*"])
    (pytester.path / "junk.json").write_text("{not json")
    result = live(pytester, server, "--toolcall-baseline=junk.json")
    result.stderr.fnmatch_lines(["*baseline junk.json is not JSON*"])
    assert server.requests == []


def test_two_models_side_by_side_with_disagreements(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=SUITE.format(threshold=0.5))
    wrong = {"tool": "set_autopilot", "args": {"status": "on"}}
    server = fake_openai({**RIGHT, ("base", "Turn into an elephant!"): wrong})
    result = runpytest(
        pytester,
        "--model=base",
        "--model=ft:acme::1",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-live",
        "--toolcall-report=report.json",
    )
    assert result.ret == 0
    report = json.loads((pytester.path / "report.json").read_text())
    nodeids = sorted(case["nodeid"] for case in report["cases"])
    assert nodeids[:2] == ["suite.yaml::elephant[base]", "suite.yaml::elephant[ft:acme:1]"]
    result.stdout.fnmatch_lines(
        [
            "models side by side",
            "*suite*base*ft:acme::1*",
            "*drone*67%*100%*",
            "cases the models disagree on (drone)",
            "*elephant*wrong_tool*pass*",
        ]
    )


def test_repeat_gives_pass_rates_interval_and_lower_bound_gate(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=SUITE.format(threshold=0.6))
    flaky = [RIGHT["Take off to 50 meters"], WRONG_TAKEOFF, RIGHT["Take off to 50 meters"]]
    server = fake_openai({**RIGHT, "Take off to 50 meters": flaky})
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--record-mode=once",
        "--toolcall-repeat=3",
        "--toolcall-concurrency=1",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*drone*m*8/9*89% [[]57%-98%[]]*>=60% PASS*", "*takeoff*(2/3 passed)*"]
    )
    assert len(server.requests) == 9
    cassette = json.loads((pytester.path / "cassettes" / "m" / "suite.json").read_text())
    assert len(cassette["interactions"]) == 9  # each sample its own entry
    strict = runpytest(
        pytester,
        "--model=m",
        "--toolcall-repeat=3",
        "--toolcall-gate-lower-bound",
        "--toolcall-threshold=0.6",
    )
    assert strict.ret == 1  # replayed: 57% lower bound < 60%
    strict.stdout.fnmatch_lines(["*drone*8/9*>=60% FAIL*"])
    assert len(server.requests) == 9


def test_tool_scores_and_confusions_for_suites_of_twenty(pytester, fake_openai, drone_tools):
    cases = "".join(
        f"  - {{id: up{i}, prompt: 'up {i}', expect: {{tool: control_drone_movement, "
        f"args: {{direction: up, distance: {i}}}}}}}\n"
        for i in range(18)
    )
    cases += "  - {id: lights, prompt: 'lights', expect: {tool: set_drone_lighting}}\n"
    cases += "  - {id: nothing, prompt: 'hi', tool_choice: auto, expect: {no_call: true}}\n"
    pytester.makefile(".yaml", suite=f"tools: tools.json\nthreshold: 0.5\ncases:\n{cases}")
    script = {
        f"up {i}": {"tool": "control_drone_movement", "args": {"direction": "up", "distance": i}}
        for i in range(18)
    }
    script["up 3"] = {"tool": "takeoff_drone", "args": {"altitude": 3}}
    script["up 4"] = {"tool": "takeoff_drone", "args": {"altitude": 4}}
    script["lights"] = {"tool": "set_drone_lighting", "args": {"mode": "on"}}
    script["hi"] = {"tool": "reject_request"}
    server = fake_openai(script)
    result = live(pytester, server)
    result.stdout.fnmatch_lines(
        [
            "tools (suite)",
            "*tool*expected*called*right*precision*recall*",
            "*control_drone_movement*18*16*16*100%*89%*",
            "*takeoff_drone*0*2*0*0%*-*",
            "most confused (suite)",
            "*control_drone_movement*takeoff_drone*2*",
            "*(no call)*reject_request*1*",
        ]
    )


def test_markdown_step_summary_and_junit(pytester, fake_openai, drone_tools, monkeypatch):
    step_summary = pytester.path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    pytester.makefile(".yaml", suite=SUITE.format(threshold=1.0))
    server = fake_openai({**RIGHT, "Take off to 50 meters": WRONG_TAKEOFF})
    result = live(pytester, server, "--toolcall-markdown=summary.md", "--junitxml=junit.xml")
    assert result.ret == 1
    markdown = (pytester.path / "summary.md").read_text()
    assert "| suite | model | pass | acc | gate | p50 ms | p95 ms | tokens |" in markdown
    assert "| drone | m | 2/3 | 67% | >=100% FAIL |" in markdown
    assert "### misses (drone)" in markdown and "wrong_args" in markdown
    assert step_summary.read_text() == "earlier step\n" + markdown

    tree = ET.parse(pytester.path / "junit.xml")
    takeoff = next(t for t in tree.iter("testcase") if t.get("name") == "takeoff")
    properties = {p.get("name"): p.get("value") for p in takeoff.iter("property")}
    assert properties == {
        "toolcall_outcome": "wrong_args",
        "toolcall_expected": 'takeoff_drone {"altitude": 50}',
        "toolcall_actual": 'takeoff_drone {"altitude": 5}',
    }
    gate = next(t for t in tree.iter("testcase") if t.get("name") == "gate")
    failure = gate.find("failure")
    assert failure is not None
    assert "accuracy 67% (2/3) is below the threshold 100%" in failure.get("message")
    assert "takeoff" in failure.text and "wrong_args" in failure.text


SEEN_PROPERTIES = """
import json

def pytest_runtest_logreport(report):
    if report.when == "call":
        with open("properties.jsonl", "a") as out:
            out.write(json.dumps([report.nodeid, report.user_properties]) + "\\n")
"""


def test_junit_properties_are_made_for_junit_under_xdist_too(pytester, fake_openai, drone_tools):
    """Formatting them costs ~0.1 ms a case: made when --junitxml writes them, else not."""
    pytester.makefile(".yaml", suite=SUITE.format(threshold=0.5))
    pytester.makeconftest(SEEN_PROPERTIES)
    server = fake_openai({**RIGHT, "Take off to 50 meters": WRONG_TAKEOFF})
    live(pytester, server).assert_outcomes(passed=3)
    seen = [json.loads(line) for line in (pytester.path / "properties.jsonl").open()]
    assert len(seen) == 4 and all(properties == [] for _, properties in seen)

    live(pytester, server, "-n", "2", "--junitxml=junit.xml").assert_outcomes(passed=3)
    tree = ET.parse(pytester.path / "junit.xml")
    takeoff = next(t for t in tree.iter("testcase") if t.get("name") == "takeoff")
    properties = {p.get("name"): p.get("value") for p in takeoff.iter("property")}
    assert properties["toolcall_actual"] == 'takeoff_drone {"altitude": 5}'
