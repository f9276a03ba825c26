"""A user's session: a YAML suite, a command line, what the terminal says, the exit code."""

from __future__ import annotations

import textwrap

import pytest
from helpers import runpytest

SUITE = """
suite: drone/basics
system: You control a drone.
tools: tools.json
tool_choice: required
params: {{temperature: 0, seed: 42}}
threshold: {threshold}
cases:
  - id: land-home
    prompt: Land the drone at the home base
    expect: {{tool: land_drone, args: {{location: home_base}}}}
  - id: takeoff
    prompt: Take off the drone to 50 meters
    expect: {{tool: takeoff_drone, args: {{altitude: 50}}}}
    tags: [flight]
"""

RIGHT = {
    "Land the drone at the home base": {"tool": "land_drone", "args": {"location": "home_base"}},
    "Take off the drone to 50 meters": {"tool": "takeoff_drone", "args": {"altitude": 50}},
}


def write_suite(pytester: pytest.Pytester, text: str, name: str = "suite") -> None:
    pytester.makefile(".yaml", **{name: textwrap.dedent(text)})


def run(pytester: pytest.Pytester, server, *args: str) -> pytest.RunResult:
    return runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live", *args
    )


def test_all_gates_hold_exit_zero(pytester, fake_openai, drone_tools):
    write_suite(pytester, SUITE.format(threshold=1.0))
    server = fake_openai(RIGHT)
    result = run(pytester, server)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["suite.yaml ..G*", "*drone/basics*m*2/2*100%*>=100% PASS*"])
    result.assert_outcomes(passed=3)
    bodies = [r["body"] for r in server.requests]
    assert {b["tool_choice"] for b in bodies} == {"required"}
    assert all(b["temperature"] == 0 and b["seed"] == 42 for b in bodies)
    assert bodies[0]["messages"][0] == {"role": "system", "content": "You control a drone."}
    assert len(bodies[0]["tools"]) == 16


def test_gate_below_threshold_fails_and_says_why(pytester, fake_openai, drone_tools):
    write_suite(pytester, SUITE.format(threshold=1.0))
    server = fake_openai(
        {
            **RIGHT,
            "Take off the drone to 50 meters": {
                "tool": "land_drone",
                "args": {"location": "current"},
            },
        }
    )
    result = run(pytester, server)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "suite.yaml .mF*",
            "*accuracy 50% (1/2) is below the threshold 100%*",
            "*takeoff*Take off the drone to 50 meters*",
            '*expected takeoff_drone {"altitude": 50}*',
            "*got      land_drone*wrong_tool*",
            "*1 failed, 1 passed, 1 missed*",
        ]
    )


def test_miss_within_threshold_passes_but_is_listed(pytester, fake_openai, drone_tools):
    write_suite(pytester, SUITE.format(threshold=0.5))
    server = fake_openai(
        {
            **RIGHT,
            "Take off the drone to 50 meters": {"tool": "takeoff_drone", "args": {"altitude": 30}},
        }
    )
    result = run(pytester, server)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*drone/basics*1/2*50%*>=50% PASS*",
            "misses (drone/basics)",
            "*takeoff*",
            "*wrong_args*",
            "*args.altitude: expected 50, got 30*",
            "*2 passed, 1 missed*",
        ]
    )


def test_strict_makes_a_miss_fail(pytester, fake_openai, drone_tools):
    write_suite(pytester, SUITE.format(threshold=0.5))
    server = fake_openai({**RIGHT, "Take off the drone to 50 meters": {"text": "no"}})
    result = run(pytester, server, "--toolcall-strict")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*no_call*", "*1 failed, 2 passed*"])


def test_server_down_gives_errors_that_say_what_to_do(pytester, fake_openai, drone_tools):
    write_suite(pytester, SUITE.format(threshold=1.0))
    server = fake_openai(RIGHT)
    base_url = server.base_url
    server.stop()
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={base_url}",
        "--toolcall-live",
        "--toolcall-retries=1",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "suite.yaml EEF*",
            "*no answer after 2 attempts: could not connect to http://127.0.0.1:*"
            "*is the server running?*",
            "*2 errors*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_http_400_is_an_error_with_the_servers_message(pytester, fake_openai, drone_tools):
    write_suite(pytester, SUITE.format(threshold=0.5))
    server = fake_openai(
        {**RIGHT, "Land the drone at the home base": {"status": 400, "error": "bad tool schema"}}
    )
    result = run(pytester, server)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*HTTP 400 from http://127.0.0.1:*: bad tool schema*"])
    result.assert_outcomes(passed=2, errors=1)


def test_several_models_get_their_own_items_and_rows(pytester, fake_openai, drone_tools):
    write_suite(pytester, SUITE.format(threshold=1.0))
    server = fake_openai(RIGHT)
    result = runpytest(
        pytester,
        "--model=base",
        "--model=ft:gpt-4o-mini:acme::abc",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-live",
        "-v",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*suite.yaml::land-home[[]base[]] PASSED*",
            "*suite.yaml::gate[[]ft:gpt-4o-mini:acme:abc[]] GATE*",
            "*drone/basics*base*2/2*",
            "*drone/basics*ft:gpt-4o-mini:acme::abc*2/2*",
        ]
    )
    assert sorted({r["body"]["model"] for r in server.requests}) == [
        "base",
        "ft:gpt-4o-mini:acme::abc",
    ]


def test_tag_threshold_gates_its_own_cases(pytester, fake_openai, drone_tools):
    suite = SUITE.format(threshold=0.5) + "thresholds: {flight: 1.0}\n"
    write_suite(pytester, suite)
    server = fake_openai(
        {
            **RIGHT,
            "Take off the drone to 50 meters": {
                "tool": "land_drone",
                "args": {"location": "current"},
            },
        }
    )
    result = run(pytester, server)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*accuracy of tag 'flight' 0% (0/1) is below the threshold 100%*"])


def test_tags_become_marks_and_k_selects(pytester, fake_openai, drone_tools):
    write_suite(pytester, SUITE.format(threshold=1.0))
    server = fake_openai(RIGHT)
    result = run(pytester, server, "-m", "flight")
    result.assert_outcomes(passed=1)
    assert [r["body"]["messages"][-1]["content"] for r in server.requests] == [
        "Take off the drone to 50 meters"
    ]
    result = run(pytester, server, "-k", "land")
    result.assert_outcomes(passed=1)


def test_selected_gate_judges_the_whole_suite(pytester, fake_openai, drone_tools):
    write_suite(pytester, SUITE.format(threshold=1.0))
    server = fake_openai(
        {
            **RIGHT,
            "Take off the drone to 50 meters": {
                "tool": "land_drone",
                "args": {"location": "current"},
            },
        }
    )
    result = run(pytester, server, "-k", "gate")
    result.assert_outcomes(failed=1)
    assert len(server.requests) == 2


def test_last_failed_and_exitfirst(pytester, fake_openai, drone_tools):
    write_suite(pytester, SUITE.format(threshold=1.0))
    write_suite(pytester, SUITE.format(threshold=1.0).replace("drone/basics", "other"), "other")
    server = fake_openai({**RIGHT, "Take off the drone to 50 meters": {"status": 400}})
    first = run(pytester, server, "-x")
    first.assert_outcomes(passed=1, errors=1)
    again = run(pytester, server, "--lf")
    again.stdout.fnmatch_lines(["*run-last-failure: rerun previous 1 failure*"])


def test_concurrency_is_bounded_and_used(pytester, fake_openai, drone_tools):
    cases = "\n".join(
        f"  - {{id: c{i}, prompt: 'go {i}', expect: {{no_call: true}}}}" for i in range(40)
    )
    write_suite(pytester, f"tools: tools.json\ncases:\n{cases}\n")
    server = fake_openai(latency_s=0.2)
    result = run(pytester, server, "--toolcall-concurrency=16")
    result.assert_outcomes(passed=41)
    assert server.max_in_flight == 16


def test_model_from_the_file_and_missing_model(pytester, fake_openai, drone_tools):
    write_suite(pytester, "model: filemodel\n" + SUITE.format(threshold=1.0))
    server = fake_openai(RIGHT)
    result = runpytest(pytester, f"--toolcall-base-url={server.base_url}", "--toolcall-live")
    assert result.ret == 0
    assert {r["body"]["model"] for r in server.requests} == {"filemodel"}
    write_suite(pytester, SUITE.format(threshold=1.0))
    result = runpytest(pytester, f"--toolcall-base-url={server.base_url}", "--toolcall-live")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*no model to run: pass --model=NAME*"])


def test_other_yaml_is_left_alone(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", config="key: value\nlist: [1, 2]\n")
    write_suite(pytester, SUITE.format(threshold=1.0))
    result = run(pytester, fake_openai(RIGHT))
    result.assert_outcomes(passed=3)


OUTCOMES = {
    # case id: (expect, scripted answer)
    "pass": ("{tool: calibrate_sensors}", {"tool": "calibrate_sensors"}),
    "no_call": ("{tool: calibrate_sensors}", {"text": "Calibrating now."}),
    "unknown_tool": ("{tool: calibrate_sensors}", {"tool": "calibrate_everything"}),
    "invalid_args": ("{tool: set_drone_speed}", {"tool": "set_drone_speed", "args": {"speed": -1}}),
    "wrong_tool": ("{tool: calibrate_sensors}", {"tool": "return_to_home"}),
    "wrong_args": (
        "{tool: set_drone_speed, args: {speed: 10}}",
        {"tool": "set_drone_speed", "args": {"speed": 20}},
    ),
    "extra_call": (
        "{tool: calibrate_sensors}",
        {"calls": [{"tool": "calibrate_sensors"}, {"tool": "return_to_home"}]},
    ),
    "missing_call": (
        "{calls: [{tool: calibrate_sensors}, {tool: return_to_home}]}",
        {"tool": "calibrate_sensors"},
    ),
    "unexpected_call": ("{no_call: true}", {"tool": "return_to_home"}),
    "error": ("{tool: calibrate_sensors}", {"status": 400, "error": "no such model"}),
}


def test_every_outcome_is_named_in_the_summary(pytester, fake_openai, drone_tools):
    cases = "".join(
        f"  - {{id: {name}, prompt: '{name}', expect: {expect}}}\n"
        for name, (expect, _) in OUTCOMES.items()
    )
    write_suite(pytester, f"tools: tools.json\nthreshold: 0\ncases:\n{cases}")
    server = fake_openai({name: answer for name, (_, answer) in OUTCOMES.items()})
    result = run(pytester, server)
    output = result.stdout.str()
    for name in OUTCOMES:
        if name in ("pass", "error"):
            continue
        assert f"  {name} " in output and f"[{name}]" in output, name
    result.stdout.fnmatch_lines(
        ["*HTTP 400 from *: no such model", "*ERROR suite.yaml::error - HTTP 400*"]
    )
    assert result.parseoutcomes() == {"passed": 2, "missed": 8, "errors": 1}


def test_unauthorised_without_a_key_says_which_variable(
    pytester, fake_openai, drone_tools, monkeypatch
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    write_suite(pytester, SUITE.format(threshold=1.0))
    server = fake_openai(default={"status": 401, "error": "Incorrect API key provided"})
    result = run(pytester, server)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*HTTP 401 from *: Incorrect API key provided (OPENAI_API_KEY is not set)"]
    )
