"""The Responses API: one suite on both APIs, with the same verdicts, live and replayed.

Every request is checked where it arrives (the fake server's `/v1/responses`): the body
the plugin built, not what it meant to build.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from helpers import runpytest

FLAT_TOOLS = [
    {
        "type": "function",
        "name": "land_drone",
        "description": "Land the drone.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "enum": ["home_base", "current"]}},
            "required": ["location"],
        },
    },
    {
        "type": "function",
        "name": "takeoff_drone",
        "parameters": {
            "type": "object",
            "properties": {"altitude": {"type": "integer"}},
            "required": ["altitude"],
        },
    },
    {"type": "function", "name": "reject_request", "description": "Say no."},
]
CHAT_LAND_TOOL = {  # FLAT_TOOLS[0] in Chat Completions form
    "type": "function",
    "function": {k: v for k, v in FLAT_TOOLS[0].items() if k != "type"},
}
LAND = {"tool": "land_drone", "args": {"location": "home_base"}}
TAKEOFF = {"tool": "takeoff_drone", "args": {"altitude": 30}}

# One case per outcome of DESIGN §2, each with the answer that produces it.
OUTCOMES_SUITE = """
suite: outcomes
system: You fly a drone.
tools: tools.json
tool_choice: required
params: {temperature: 0, max_tokens: 200}
threshold: 0
cases:
  - {id: pass, prompt: p-pass, expect: {tool: land_drone, args: {location: home_base}}}
  - {id: no-call, prompt: p-no-call, expect: {tool: land_drone}}
  - {id: unknown-tool, prompt: p-unknown-tool, expect: {tool: land_drone}}
  - {id: invalid-args, prompt: p-invalid-args, expect: {tool: land_drone}}
  - {id: wrong-tool, prompt: p-wrong-tool, expect: {tool: land_drone}}
  - {id: wrong-args, prompt: p-wrong-args, expect: {tool: land_drone, args: {location: current}}}
  - id: extra-call
    prompt: p-extra-call
    expect: {tool: land_drone}
  - id: missing-call
    prompt: p-missing-call
    expect: {calls: [{tool: takeoff_drone}, {tool: land_drone}]}
  - {id: unexpected-call, prompt: p-unexpected-call, expect: {no_call: true}}
  - {id: error, prompt: p-error, expect: {tool: land_drone}}
"""
OUTCOMES_SCRIPT = {
    "p-pass": LAND,
    "p-no-call": {"text": "I would rather not."},
    "p-unknown-tool": {"tool": "fly_to_mars"},
    "p-invalid-args": {"tool": "land_drone", "arguments_raw": "{not json"},
    "p-wrong-tool": TAKEOFF,
    "p-wrong-args": LAND,
    "p-extra-call": {"calls": [LAND, TAKEOFF]},
    "p-missing-call": TAKEOFF,
    "p-unexpected-call": LAND,
    "p-error": {"status": 400, "error": "bad request"},
}
EXPECTED_OUTCOMES = {
    "pass": "pass",
    "no-call": "no_call",
    "unknown-tool": "unknown_tool",
    "invalid-args": "invalid_args",
    "wrong-tool": "wrong_tool",
    "wrong-args": "wrong_args",
    "extra-call": "extra_call",
    "missing-call": "missing_call",
    "unexpected-call": "unexpected_call",
    "error": "error",
}

OFFLINE = """
import socket
import pytest

@pytest.fixture(autouse=True, scope="session")
def _no_sockets():
    def refuse(*args, **kwargs):
        raise OSError("this test forbids socket.connect")
    original, socket.socket.connect = socket.socket.connect, refuse
    yield
    socket.socket.connect = original
"""


def write(pytester: pytest.Pytester, text: str, name: str = "suite") -> Path:
    return pytester.makefile(".yaml", **{name: textwrap.dedent(text)})


def flat_tools(pytester: pytest.Pytester) -> None:
    (pytester.path / "tools.json").write_text(json.dumps(FLAT_TOOLS))


def run(pytester: pytest.Pytester, server, *args: str) -> pytest.RunResult:
    return runpytest(pytester, "--model=m", f"--toolcall-base-url={server.base_url}", *args)


def report(pytester: pytest.Pytester, name: str) -> dict:
    return json.loads((pytester.path / name).read_text())


def outcomes(data: dict) -> dict[str, str]:
    return {case["case"]: case["outcome"] for case in data["cases"]}


def test_every_outcome_is_the_same_on_both_apis_live_and_replayed(pytester, fake_openai):
    flat_tools(pytester)
    write(pytester, OUTCOMES_SUITE)
    server = fake_openai(OUTCOMES_SCRIPT)
    for api in ("chat", "responses"):
        run(
            pytester,
            server,
            f"--toolcall-api={api}",
            "--toolcall-live",
            f"--toolcall-report={api}.json",
        )
    assert outcomes(report(pytester, "chat.json")) == EXPECTED_OUTCOMES
    assert outcomes(report(pytester, "responses.json")) == EXPECTED_OUTCOMES
    paths = [request["path"] for request in server.requests]
    assert paths == ["/v1/chat/completions"] * 10 + ["/v1/responses"] * 10
    # the same details too, not only the same outcome names
    chat, responses = report(pytester, "chat.json"), report(pytester, "responses.json")
    details = {c["case"]: (c["detail"], c["actual"]) for c in chat["cases"] if c["case"] != "error"}
    assert {
        c["case"]: (c["detail"], c["actual"]) for c in responses["cases"] if c["case"] != "error"
    } == details
    assert {c["api"] for c in chat["cases"]} == {"chat"}
    assert {c["api"] for c in responses["cases"]} == {"responses"}
    assert [s["api"] for s in responses["suites"]] == ["responses"]
    assert responses["options"]["api"] == "responses"

    # recorded on Responses, then replayed with no server and no socket: same verdicts
    run(pytester, server, "--toolcall-api=responses", "--record-mode=once")
    recorded = json.loads((pytester.path / "cassettes" / "m" / "suite.json").read_text())
    uris = {i["request"]["uri"] for i in recorded["interactions"]}
    assert uris == {f"{server.base_url}/responses"}
    assert len(recorded["interactions"]) == 9  # the error is never recorded
    server.stop()
    pytester.makeconftest(OFFLINE)
    replayed = runpytest(
        pytester, "--model=m", "--toolcall-api=responses", "--toolcall-report=r.json"
    )
    replay = outcomes(report(pytester, "r.json"))
    assert replay == EXPECTED_OUTCOMES
    replayed.stdout.fnmatch_lines(
        ["*no recording for case error of suite outcomes, model m, responses API: record it*"]
    )


def test_bodies_in_each_apis_form(pytester, fake_openai):
    flat_tools(pytester)
    write(
        pytester,
        """
        system: You fly a drone.
        tools: tools.json
        tool_choice: {name: land_drone}
        params: {temperature: 0, max_tokens: 50, reasoning_effort: low}
        cases:
          - {id: land, prompt: land now, expect: {tool: land_drone}}
        """,
    )
    server = fake_openai({"land now": LAND})
    run(pytester, server, "--toolcall-live").assert_outcomes(passed=2)
    run(pytester, server, "--toolcall-live", "--toolcall-api=responses").assert_outcomes(passed=2)
    chat, responses = (r["body"] for r in server.requests)
    # Chat: flat tools written in the file go out in Chat form, params as written
    assert chat["tools"][0] == CHAT_LAND_TOOL
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "land_drone"}}
    assert chat["max_tokens"] == 50 and chat["reasoning_effort"] == "low"
    assert chat["messages"][0] == {"role": "system", "content": "You fly a drone."}
    # Responses: flat tools (not strict unless the file says so), instructions, input
    assert responses["tools"][0] == {**FLAT_TOOLS[0], "strict": False}
    assert responses["tools"][2]["parameters"] == {"type": "object", "properties": {}}
    assert responses["tool_choice"] == {"type": "function", "name": "land_drone"}
    assert responses["instructions"] == "You fly a drone."
    assert responses["input"] == [{"type": "message", "role": "user", "content": "land now"}]
    assert responses["max_output_tokens"] == 50 and "max_tokens" not in responses
    assert responses["reasoning"] == {"effort": "low"}
    assert "messages" not in responses


def test_multi_turn_history_arrives_as_function_call_items(pytester, fake_openai, drone_tools):
    write(
        pytester,
        """
        api: responses
        tools: tools.json
        cases:
          - id: then-land
            messages:
              - {role: system, content: Be brief.}
              - {role: user, content: Take off to 30 m}
              - role: assistant
                content: null
                tool_calls:
                  - id: call_abc
                    type: function
                    function: {name: takeoff_drone, arguments: '{"altitude": 30}'}
              - {role: tool, tool_call_id: call_abc, content: '{"ok": true}'}
              - {role: assistant, content: Up at 30 m.}
              - {role: user, content: Now land at home}
            expect: {tool: land_drone, args: {location: home_base}}
        """,
    )
    server = fake_openai({"Now land at home": LAND})
    run(pytester, server, "--toolcall-live").assert_outcomes(passed=2)
    (request,) = server.requests
    assert request["path"] == "/v1/responses"
    assert request["body"]["input"] == [
        {"type": "message", "role": "system", "content": "Be brief."},
        {"type": "message", "role": "user", "content": "Take off to 30 m"},
        {
            "type": "function_call",
            "call_id": "call_abc",
            "name": "takeoff_drone",
            "arguments": '{"altitude": 30}',
        },
        {"type": "function_call_output", "call_id": "call_abc", "output": '{"ok": true}'},
        {"type": "message", "role": "assistant", "content": "Up at 30 m."},
        {"type": "message", "role": "user", "content": "Now land at home"},
    ]


def test_a_function_call_alone_is_the_call_and_reasoning_is_kept_not_judged(
    pytester, fake_openai, drone_tools
):
    write(
        pytester,
        """
        api: responses
        tools: tools.json
        cases:
          - {id: bare, prompt: bare call, expect: {tool: land_drone, args: {location: home_base}}}
          - {id: thinking, prompt: think first, expect: {tool: land_drone}}
          - {id: thought-only, prompt: only thinks, expect: {no_call: true}}
        """,
    )
    bare = {
        "output": [
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "land_drone",
                "arguments": '{"location": "home_base"}',
            }
        ]
    }
    server = fake_openai(
        {
            "bare call": bare,
            "think first": {**LAND, "reasoning": "The user wants to land.", "text": "Landing."},
            "only thinks": {"reasoning": "land_drone would be wrong here", "text": "No."},
        }
    )
    result = run(pytester, server, "--record-mode=once", "--toolcall-report=r.json")
    result.assert_outcomes(passed=4)
    assert outcomes(report(pytester, "r.json")) == {
        "bare": "pass",
        "thinking": "pass",
        "thought-only": "pass",
    }
    text = (pytester.path / "cassettes" / "m" / "suite.json").read_text()
    answers = [
        json.loads(i["response"]["body"]["string"]) for i in json.loads(text)["interactions"]
    ]
    kinds = [[item["type"] for item in answer["output"]] for answer in answers]
    assert kinds == [
        ["function_call"],
        ["reasoning", "message", "function_call"],
        ["reasoning", "message"],
    ]
    server.stop()
    pytester.makeconftest(OFFLINE)
    runpytest(pytester, "--model=m").assert_outcomes(passed=4)


def test_switching_api_on_a_recorded_suite_says_no_recording(pytester, fake_openai, drone_tools):
    write(
        pytester,
        """
        tools: tools.json
        cases:
          - {id: land, prompt: land now, expect: {tool: land_drone}}
        """,
    )
    server = fake_openai({"land now": LAND})
    run(pytester, server, "--record-mode=once", "--toolcall-api=responses").assert_outcomes(
        passed=2
    )
    assert [r["path"] for r in server.requests] == ["/v1/responses"]
    server.stop()
    pytester.makeconftest(OFFLINE)
    runpytest(pytester, "--model=m", "--toolcall-api=responses").assert_outcomes(passed=2)
    on_chat = runpytest(pytester, "--model=m")  # the file's own api: chat
    on_chat.assert_outcomes(errors=1, failed=1)
    on_chat.stdout.fnmatch_lines(
        ["*no recording for case land of suite suite, model m: record it*"]
    )


def test_chat_only_param_in_a_responses_file_is_a_collection_error(
    pytester, fake_openai, drone_tools
):
    write(
        pytester,
        """
        api: responses
        tools: tools.json
        params: {temperature: 0, seed: 7}
        cases:
          - {id: a, prompt: land now, expect: {tool: land_drone}}
          - {id: b, prompt: land later, expect: {tool: land_drone}, params: {stop: [x]}}
        """,
    )
    server = fake_openai({})
    result = run(pytester, server, "--toolcall-live")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*suite.yaml:3: params: 'seed' is a Chat Completions param the Responses API does "
            "not have (api: responses): remove it, or run this suite on api: chat*",
            "*suite.yaml:6: case 'b': params: 'stop' is a Chat Completions param*",
        ]
    )
    assert result.stdout.str().count("'seed' is a Chat") == 1  # the file's param, named once
    assert server.requests == []


def test_the_run_moves_a_chat_file_to_responses_dropping_chat_only_params_with_a_warning(
    pytester, fake_openai, drone_tools
):
    write(
        pytester,
        """
        tools: tools.json
        params: {temperature: 0, seed: 7}
        cases:
          - {id: a, prompt: land now, expect: {tool: land_drone}}
          - {id: b, prompt: land later, expect: {tool: land_drone}, params: {n: 2}}
        """,
    )
    server = fake_openai({"land now": LAND, "land later": LAND})
    result = run(pytester, server, "--toolcall-live", "--toolcall-api=responses")
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*ToolcallApiWarning: suite.yaml: run on the responses API (--toolcall-api), which "
            "has no counterpart for these Chat Completions params: not sent: 'seed' (2 cases);"
            " 'n' (case b)",
        ]
    )
    bodies = [r["body"] for r in server.requests]
    assert all("seed" not in b and "n" not in b and b["temperature"] == 0 for b in bodies)


def test_ini_toolcall_api_and_a_case_of_its_own(pytester, fake_openai, drone_tools):
    write(
        pytester,
        """
        tools: tools.json
        cases:
          - {id: on-chat, prompt: land now, expect: {tool: land_drone}}
          - {id: on-responses, api: responses, prompt: land later, expect: {tool: land_drone}}
        """,
    )
    server = fake_openai({"land now": LAND, "land later": LAND})
    run(pytester, server, "--toolcall-live").assert_outcomes(passed=3)
    # (the two are in flight together: which reaches the server first is not fixed)
    path_of = {
        prompt: request["path"]
        for request in server.requests
        for prompt in ("land now", "land later")
        if prompt in json.dumps(request["body"])
    }
    assert path_of == {"land now": "/v1/chat/completions", "land later": "/v1/responses"}
    pytester.makeini("[pytest]\ntoolcall_api = responses\n")
    run(pytester, server, "--toolcall-live").assert_outcomes(passed=3)
    assert [r["path"] for r in server.requests[2:]] == ["/v1/responses"] * 2
    run(pytester, server, "--toolcall-live", "--toolcall-api=chat").assert_outcomes(passed=3)
    assert [r["path"] for r in server.requests[4:]] == ["/v1/chat/completions"] * 2
    pytester.makeini("[pytest]\ntoolcall_api = soap\n")
    bad = run(pytester, server)
    bad.stderr.fnmatch_lines(["*toolcall_api: 'soap' is not one of chat, responses*"])


def test_responses_tokens_price_the_run(pytester, fake_openai, drone_tools):
    write(
        pytester,
        """
        api: responses
        tools: tools.json
        cases:
          - {id: land, prompt: land now, expect: {tool: land_drone}}
        """,
    )
    pytester.makeini("[pytest]\ntoolcall_prices = m = 1000000 2000000\n")
    server = fake_openai({"land now": LAND})
    run(pytester, server, "--toolcall-live", "--toolcall-report=r.json").assert_outcomes(passed=2)
    (case,) = report(pytester, "r.json")["cases"]
    (suite,) = report(pytester, "r.json")["suites"]
    input_tokens = len(json.dumps(server.requests[0]["body"])) // 4  # what the fake counts
    assert case["prompt_tokens"] == [input_tokens]
    assert case["completion_tokens"] == [10]
    assert case["total_tokens"] == [input_tokens + 10]
    assert suite["cost_usd"] == pytest.approx(input_tokens * 1 + 10 * 2)


def test_export_of_a_responses_suite_writes_chat_fine_tuning_lines(pytester, monkeypatch):
    from pytest_toolcall.datagen.cli import main

    flat_tools(pytester)
    write(
        pytester,
        """
        api: responses
        tools: tools.json
        cases:
          - {id: land, prompt: land now, expect: {tool: land_drone, args: {location: home_base}}}
        """,
    )
    monkeypatch.chdir(pytester.path)
    assert main(["export", "suite.yaml", "--out", "train.jsonl"]) == 0
    (line,) = [json.loads(text) for text in Path("train.jsonl").read_text().splitlines()]
    assert line["tools"][0] == CHAT_LAND_TOOL
    call = line["messages"][-1]["tool_calls"][0]["function"]
    assert call["name"] == "land_drone"
    assert json.loads(call["arguments"]) == {"location": "home_base"}
