"""Agent cases: the plugin plays the tool loop with scripted results, turn by turn."""

from __future__ import annotations

import json
import textwrap

from helpers import runpytest

PROMPT = "Take off to 30 m, then take a photo"
SUITE = """
tools: tools.json
tool_choice: auto
tool_results:
  takeoff_drone: {status: airborne}
  control_camera:
    - {when: {mode: photo}, result: {file: img_001.jpg}}
    - {when: {mode: video}, result: {file: vid_001.mp4}}
cases:
  - id: takeoff-then-photo
    prompt: Take off to 30 m, then take a photo
    expect:
      steps:
        - {tool: takeoff_drone, args: {altitude: 30}}
        - {tool: control_camera, args: {mode: photo}}
        - {no_call: true, text: {$contains: img_001}}
"""
TAKEOFF = {"tool": "takeoff_drone", "args": {"altitude": 30}}
PHOTO = {"tool": "control_camera", "args": {"mode": "photo"}}
DONE = {"text": "Airborne; the photo is img_001.jpg"}


def run(pytester, server, *args: str):
    return runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live", *args
    )


def write(pytester, text: str = SUITE) -> None:
    pytester.makefile(".yaml", suite=textwrap.dedent(text))


def test_every_step_right_passes_and_sends_each_result_back(pytester, fake_openai, drone_tools):
    write(pytester)
    server = fake_openai({PROMPT: [TAKEOFF, PHOTO, DONE]})
    run(pytester, server).assert_outcomes(passed=2)
    assert len(server.requests) == 3
    second = server.requests[1]["body"]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == "takeoff_drone"
    assert second[-1] == {
        "role": "tool",
        "tool_call_id": "call_0",
        "content": '{"status": "airborne"}',
    }
    third = server.requests[2]["body"]["messages"]
    assert third[-1]["content"] == '{"file": "img_001.jpg"}'  # chosen by `when: {mode: photo}`


def test_wrong_args_at_step_two_ends_the_case_there(pytester, fake_openai, drone_tools):
    write(pytester)
    video = {"tool": "control_camera", "args": {"mode": "video"}}
    server = fake_openai({PROMPT: [TAKEOFF, video, DONE]})
    result = run(pytester, server, "--toolcall-report=r.json", "--junitxml=j.xml")
    result.stdout.fnmatch_lines(["*step 2 of 3: args.mode*'photo'*'video'*"])
    assert len(server.requests) == 2  # no third turn
    case = json.loads((pytester.path / "r.json").read_text())["cases"][0]
    assert case["outcome"] == "wrong_args"
    assert [s["outcome"] for s in case["steps"]] == ["pass", "wrong_args"]
    assert case["steps"][1]["actual"][0]["name"] == "control_camera"
    assert "(wrong_args)" in (pytester.path / "j.xml").read_text()  # every turn in JUnit


def test_a_model_that_stops_early_is_no_call_at_that_step(pytester, fake_openai, drone_tools):
    write(pytester)
    server = fake_openai({PROMPT: [{"text": "Done!"}]})
    result = run(pytester, server, "--toolcall-report=r.json")
    case = json.loads((pytester.path / "r.json").read_text())["cases"][0]
    assert case["outcome"] == "no_call" and case["detail"].startswith("step 1 of 3")
    assert len(server.requests) == 1
    assert result.parseoutcomes() == {"missed": 1, "failed": 1}  # the miss, and its gate


def test_a_model_that_calls_on_after_the_last_step(pytester, fake_openai, drone_tools):
    write(
        pytester,
        """
        tools: tools.json
        tool_choice: auto
        tool_results: {takeoff_drone: airborne}
        cases:
          - id: just-takeoff
            prompt: Take off to 30 m, then take a photo
            expect: {steps: [{tool: takeoff_drone, args: {altitude: 30}}]}
        """,
    )
    server = fake_openai({PROMPT: [TAKEOFF, PHOTO]})
    run(pytester, server, "--toolcall-report=r.json")
    case = json.loads((pytester.path / "r.json").read_text())["cases"][0]
    assert case["outcome"] == "unexpected_call"
    assert case["detail"].startswith("after the last step (1)")
    assert server.requests[1]["body"]["messages"][-1]["content"] == "airborne"  # a string as is


def test_parallel_calls_in_one_step_get_both_results(pytester, fake_openai, drone_tools):
    write(
        pytester,
        """
        tools: tools.json
        tool_choice: auto
        tool_results: {takeoff_drone: {status: airborne}, control_camera: {file: img_001.jpg}}
        cases:
          - id: both-at-once
            prompt: Take off to 30 m, then take a photo
            expect:
              steps:
                - calls:
                    - {tool: takeoff_drone, args: {altitude: 30}}
                    - {tool: control_camera, args: {mode: photo}}
                - {no_call: true}
        """,
    )
    server = fake_openai({PROMPT: [{"calls": [TAKEOFF, PHOTO]}, DONE]})
    run(pytester, server).assert_outcomes(passed=2)
    messages = server.requests[1]["body"]["messages"]
    assert [m["tool_call_id"] for m in messages[-2:]] == ["call_0", "call_1"]
    assert messages[-3]["role"] == "assistant" and len(messages[-3]["tool_calls"]) == 2


def test_an_agent_case_replays_offline_turn_by_turn(pytester, fake_openai, drone_tools):
    write(pytester)
    server = fake_openai({PROMPT: [TAKEOFF, PHOTO, DONE]})
    base = ["--model=m", f"--toolcall-base-url={server.base_url}"]
    runpytest(pytester, *base, "--record-mode=once").assert_outcomes(passed=2)
    saved = json.loads((pytester.path / "cassettes" / "m" / "suite.json").read_text())
    assert len(saved["interactions"]) == 3  # one entry per turn
    server.stop()
    runpytest(pytester, *base).assert_outcomes(passed=2)
    assert len(server.requests) == 3


def test_a_changed_earlier_answer_makes_the_later_turn_unrecorded(
    pytester, fake_openai, drone_tools
):
    write(pytester)
    server = fake_openai({PROMPT: [TAKEOFF, PHOTO, DONE]})
    base = ["--model=m", f"--toolcall-base-url={server.base_url}"]
    runpytest(pytester, *base, "--record-mode=once")
    path = pytester.path / "cassettes" / "m" / "suite.json"
    saved = json.loads(path.read_text())
    turn_one = next(  # the interaction whose request is the bare prompt
        i for i in saved["interactions"] if len(json.loads(i["request"]["body"])["messages"]) == 1
    )
    first = json.loads(turn_one["response"]["body"]["string"])
    first["choices"][0]["message"]["tool_calls"][0]["id"] = "call_edited"  # still passes
    turn_one["response"]["body"]["string"] = json.dumps(first)
    path.write_text(json.dumps(saved))
    result = runpytest(pytester, *base)
    result.stdout.fnmatch_lines(["*no recording for case takeoff-then-photo*turn 2*"])


def test_broken_agent_cases_are_collection_errors(pytester, drone_tools):
    write(
        pytester,
        """
        tools: tools.json
        tool_results:
          control_camera:
            - {when: {mode: sketch}, result: nope}
        cases:
          - id: no-result
            prompt: Take off, then photograph
            expect:
              steps:
                - {tool: takeoff_drone, args: {altitude: 30}}
                - {no_call: true}
          - id: both-forms
            prompt: Take off
            expect: {tool: takeoff_drone, steps: [{no_call: true}]}
          - id: final-too-early
            prompt: Take off
            expect: {steps: [{no_call: true}, {tool: takeoff_drone}]}
        """,
    )
    result = runpytest(pytester, "--model=m")
    result.stdout.fnmatch_lines(
        [
            "*tool_results.control_camera[[]0[]].when*'sketch' is not one of*"
            "(this `when` can never match)*",
            "*case 'no-result'*takeoff_drone is called here but tool_results has no result "
            "to send back*",
            "*case 'both-forms'*give one of tool, calls, no_call, any_of or steps*",
            "*case 'final-too-early'*only the last step may be no_call*",
        ],
        consecutive=False,
    )
    assert result.ret == 2  # pytest's own "interrupted: errors during collection"


def test_an_agent_case_on_the_responses_api(pytester, fake_openai, drone_tools):
    write(pytester)
    server = fake_openai({PROMPT: [TAKEOFF, PHOTO, DONE]})
    run(pytester, server, "--toolcall-api=responses").assert_outcomes(passed=2)
    assert len(server.requests) == 3
    items = server.requests[1]["body"]["input"]
    call = next(item for item in items if item.get("type") == "function_call")
    output = next(item for item in items if item.get("type") == "function_call_output")
    assert call["name"] == "takeoff_drone" and output["call_id"] == call["call_id"]
    assert output["output"] == '{"status": "airborne"}'


def test_export_writes_an_agent_case_as_one_multi_turn_example(pytester, drone_tools, capsys):
    from pytest_toolcall.datagen.cli import main

    write(
        pytester,
        SUITE.replace("{no_call: true, text: {$contains: img_001}}", "{no_call: true, text: Done.}")
        + """
  - id: open-ended
    prompt: Take off to 30 m, then take a photo
    expect:
      steps:
        - {tool: takeoff_drone, args: {altitude: 30}}
        - {no_call: true, text: {$contains: airborne}}
""",
    )
    out = pytester.path / "train.jsonl"
    assert main(["export", str(pytester.path / "suite.yaml"), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 1  # the open-ended final text is not concrete: skipped, counted
    roles = [m["role"] for m in lines[0]["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    messages = lines[0]["messages"]
    assert messages[2] == {
        "role": "tool",
        "tool_call_id": "call_1_1",
        "content": '{"status": "airborne"}',
    }
    assert messages[4]["content"] == '{"file": "img_001.jpg"}'  # chosen by `when`
    assert messages[-1] == {"role": "assistant", "content": "Done."}
    assert "1 agent steps without a literal final text" in capsys.readouterr().out
