"""`pytest-toolcall generate`: enumeration, filling by the model, rejects, cassettes, errors."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakeserver import FakeOpenAI
from helpers import runpytest

from pytest_toolcall.collect.casefile import load_suite
from pytest_toolcall.datagen.cli import main
from pytest_toolcall.datagen.concrete_calls import resolve_calls
from pytest_toolcall.datagen.generate import generate as run_generate
from pytest_toolcall.datagen.generate import generation_cassette_path
from pytest_toolcall.datagen.generation_inputs import GenerateError, GenerateOptions
from pytest_toolcall.datagen.generation_prompts import AnswerProblem, extract_json, parse_fill
from pytest_toolcall.datagen.invocations import Invocation, enumerate_invocations
from pytest_toolcall.send.transport import SendSettings

DRONE_TOOLS = Path(__file__).parent / "data" / "drone_tools.json"


def tool(name: str, properties: dict[str, Any], required: list[str] = ()) -> dict[str, Any]:
    parameters = {"type": "object", "properties": properties, "required": list(required)}
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


# ---- the project's fake server, answering with text computed from the request -----------


def serve(
    fake_openai: Callable[..., FakeOpenAI], answer: Callable[[dict[str, Any]], str]
) -> FakeOpenAI:
    """A fake server whose assistant text is `answer(request body)`."""
    return fake_openai(respond=lambda body: {"text": answer(body)})


def bodies(server: FakeOpenAI) -> list[dict[str, Any]]:
    """The request bodies the server received, in arrival order."""
    return [request["body"] for request in server.requests]


FILLS = {"integer": 7, "number": 2.5, "string": "alpha", "object": {"lat": 1.5, "lon": 2.5}}


def task(body: dict[str, Any]) -> str:
    return body["messages"][1]["content"]


def good_answer(body: dict[str, Any]) -> str:
    """What a cooperative model says: the free values filled, K distinct prompts."""
    prompt = task(body)
    if "none of these functions can carry out" in prompt:
        count = int(re.search(r"Write (\d+) different", prompt).group(1))
        batch = re.search(r"\((batch [^)]*)\)", prompt).group(1)
        return json.dumps({"requests": [f"impossible {batch} #{i}" for i in range(count)]})
    call = re.search(r"^The call: (\w+\(.*\))$", prompt, re.MULTILINE).group(1)
    k = int(re.search(r"Write (\d+) different", prompt).group(1))
    filled = {
        name: FILLS[json.loads(schema).get("type", "object")]
        for name, schema in re.findall(r"^- (\w+) = <choose>:.* Schema: (\{.*\})$", prompt, re.M)
    }
    for name, value in filled.items():
        call = call.replace(f"{name}=<choose>", f"{name}={json.dumps(value)}")
    words = call.replace("_", " ").replace("(", " with ")  # must not name the function
    answer = {"arguments": filled, "prompts": [f"please {words} (way {i})" for i in range(k)]}
    return "Sure! Here it is:\n```json\n" + json.dumps(answer) + "\n```"


def generate(tmp_path: Path, *args: str, tools: Path | None = None) -> int:
    tools = tools or DRONE_TOOLS
    return main(["generate", "--tools", str(tools), "--model", "gen/m:1", *args])


# ---- enumeration (no server) -------------------------------------------------------------


def test_required_enum_of_3_and_optional_enum_of_2_give_9_invocations():
    tools = [
        tool(
            "land",
            {"where": {"enum": ["home", "here", "pad"]}, "speed": {"enum": ["slow", "fast"]}},
            ["where"],
        )
    ]
    invocations = enumerate_invocations(tools)
    assert len(invocations) == 9
    assert [i.args for i in invocations[:3]] == [
        {"where": "home", "speed": "slow"},
        {"where": "home", "speed": "fast"},
        {"where": "home"},
    ]
    assert sum("speed" not in i.args for i in invocations) == 3
    assert len({i.slug for i in invocations}) == 9
    assert invocations[2].slug == "land-home"


def test_drone_tools_enumerate_as_the_cookbook():
    tools = json.loads(DRONE_TOOLS.read_text())
    invocations = enumerate_invocations(tools, reject_tool="reject_request")
    per_tool: dict[str, int] = {}
    for invocation in invocations:
        per_tool[invocation.tool] = per_tool.get(invocation.tool, 0) + 1
    assert "reject_request" not in per_tool
    assert list(per_tool) == sorted(per_tool)  # tools in name order
    assert per_tool["configure_led_display"] == 4 * (5 + 1)
    assert per_tool["land_drone"] == 3 * 2  # coordinates: filled, or absent
    assert per_tool["control_drone_movement"] == 6  # distance is free, filled by the model
    assert per_tool["set_drone_lighting"] == 4
    assert per_tool["return_to_home"] == 1
    assert sum(per_tool.values()) == 60
    land = [i for i in invocations if i.tool == "land_drone"]
    assert [i.free for i in land] == [["coordinates"], [], ["coordinates"], [], ["coordinates"], []]
    assert land[0].slug == "land_drone-current-coordinates"


def test_booleans_take_both_values_and_optional_ones_are_also_absent():
    tools = [tool("t", {"a": {"type": "boolean"}, "b": {"type": "boolean"}}, ["a"])]
    invocations = enumerate_invocations(tools)
    assert [i.args for i in invocations] == [
        {"a": True, "b": True},
        {"a": True, "b": False},
        {"a": True},
        {"a": False, "b": True},
        {"a": False, "b": False},
        {"a": False},
    ]
    assert invocations[2].slug == "t-a-true"


def test_max_per_tool_is_a_seeded_deterministic_sample():
    tools = json.loads(DRONE_TOOLS.read_text())
    everything = enumerate_invocations(tools)
    led = [i.args for i in everything if i.tool == "configure_led_display"]
    first = enumerate_invocations(tools, max_per_tool=5, seed=1)
    again = enumerate_invocations(tools, max_per_tool=5, seed=1)
    other = enumerate_invocations(tools, max_per_tool=5, seed=2)
    assert first == again
    sampled = [i.args for i in first if i.tool == "configure_led_display"]
    assert len(sampled) == 5
    assert sampled == [args for args in led if args in sampled]  # a subset, in order
    assert sampled != [i.args for i in other if i.tool == "configure_led_display"]
    assert sum(i.tool == "land_drone" for i in first) == 5  # 6 capped to 5
    assert sum(i.tool == "set_drone_lighting" for i in first) == 4  # under the cap


def test_an_enormous_product_needs_a_cap():
    tools = [tool("big", {f"p{n}": {"enum": list(range(10))} for n in range(6)})]
    with pytest.raises(GenerateError, match="big.*--max-per-tool"):
        enumerate_invocations(tools)
    assert len(enumerate_invocations(tools, max_per_tool=7)) == 7


# ---- reading answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"prompts": ["a"]}',
        'Here you go:\n```json\n{"prompts": ["a"]}\n```\nEnjoy!',
        'The answer is {"prompts": ["a"]} as requested.',
    ],
)
def test_json_is_found_in_prose_and_fences(text):
    assert extract_json(text) == {"prompts": ["a"]}


@pytest.mark.parametrize("text", ["", "no json here", '{"prompts": ["a",'])
def test_no_json_is_a_problem(text):
    with pytest.raises(AnswerProblem):
        extract_json(text)


def test_filled_values_must_fit_the_schema():
    parameters = json.loads(DRONE_TOOLS.read_text())[2]["function"]["parameters"]
    free = enumerate_invocations(
        [
            {
                "type": "function",
                "function": {"name": "control_drone_movement", "parameters": parameters},
            }
        ]
    )[0]
    assert isinstance(free, Invocation) and free.free == ["distance"]

    def answer(distance: Any, prompts: Any = ("go forward 30 m", "30 metres forward")) -> str:
        return json.dumps({"arguments": {"distance": distance}, "prompts": list(prompts)})

    args, prompts = parse_fill(answer(30.0), free, parameters, 2)
    assert args == {"direction": "forward", "distance": 30} and type(args["distance"]) is int
    assert prompts == ["go forward 30 m", "30 metres forward"]
    with pytest.raises(AnswerProblem, match="distance"):
        parse_fill(answer("far"), free, parameters, 2)
    with pytest.raises(AnswerProblem, match="1 distinct prompts given, 2 wanted"):
        parse_fill(answer(5, ["same", " same "]), free, parameters, 2)
    with pytest.raises(AnswerProblem, match="a prompt names the function"):
        parse_fill(answer(5, ["a", "Call control_drone_movement(5)"]), free, parameters, 2)
    with pytest.raises(AnswerProblem, match="holds the placeholder '<request 2>'"):
        parse_fill(answer(5, ["a", "<request 2>"]), free, parameters, 2)
    with pytest.raises(AnswerProblem, match="must be a plain string"):
        parse_fill(answer(5, [{"user": "a"}, "b"]), free, parameters, 2)
    with pytest.raises(AnswerProblem, match="no value for distance"):
        parse_fill(json.dumps({"arguments": {}, "prompts": ["a", "b"]}), free, parameters, 2)


# ---- the command, against a loopback server -----------------------------------------------


def test_generate_writes_a_valid_suite_and_replays_offline(tmp_path, fake_openai, capsys):
    server = serve(fake_openai, good_answer)
    out = tmp_path / "cases" / "gen.yaml"
    system = tmp_path / "system.txt"
    system.write_text("You control a drone.\n")
    argv = [
        "--out",
        str(out),
        "--prompts-per-call",
        "2",
        "--reject-tool",
        "reject_request",
        "--rejects",
        "12",
        "--system",
        str(system),
        "--no-progress",
    ]
    assert generate(tmp_path, *argv, "--base-url", server.base_url) == 0
    assert len(server.requests) == 60 + 2  # one per invocation, rejects in batches of 10
    text = out.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    schema_path = text.splitlines()[0].split("$schema=")[1]
    assert (out.parent / schema_path).resolve().name == "casefile.schema.json"
    assert "status: 'on'" in text and "'off'" in text  # YAML 1.1 readers keep them strings
    assert "\n  - id: land_drone-home_base-1\n" in text
    assert "    expect: {tool: land_drone, args: {location: home_base}}\n" in text
    assert "    tags: [rejects]\n" in text
    assert "\nsystem: ../system.txt\ntools: " in text
    assert not any("You control a drone" in json.dumps(b) for b in bodies(server))
    suite = load_suite(out, tmp_path)
    assert len(suite.cases) == 60 * 2 + 12
    assert suite.cases[0].system == "You control a drone.\n"
    assert {c.tool_choice for c in suite.cases} == {"required"}
    assert suite.cases[0].params == {"temperature": 0, "seed": 42}
    by_id = {case.id: case for case in suite.cases}
    assert by_id["land_drone-home_base-1"].expect == {
        "tool": "land_drone",
        "args": {"location": "home_base"},
    }
    assert by_id["control_drone_movement-up-distance-2"].expect["args"] == {
        "direction": "up",
        "distance": 7,
    }
    assert by_id["land_drone-custom-coordinates-1"].expect["args"]["coordinates"] == {
        "$one_of": [{"lat": 1.5, "lon": 2.5}, {"$any": True}]  # key names a prompt cannot state
    }
    rejects = [case for case in suite.cases if "rejects" in case.tags]
    assert len(rejects) == 12 and len({case.prompt for case in rejects}) == 12
    assert {case.expect["tool"] for case in rejects} == {"reject_request"}
    pyyaml_view = yaml.safe_load(text)  # a YAML 1.1 reader
    modes = {c["expect"].get("args", {}).get("status") for c in pyyaml_view["cases"]}
    assert {"on", "off"} <= modes
    cassette = generation_cassette_path(out, "gen/m:1")
    assert cassette.parent.parent == out.parent / "cassettes"
    assert len(json.loads(cassette.read_text())["interactions"]) == 62
    assert f"wrote {out}: 132 cases" in capsys.readouterr().out

    server.stop()
    first = out.read_text()
    out.unlink()
    assert generate(tmp_path, *argv, "--record-mode", "none") == 0
    assert out.read_text() == first
    assert "62 requests (62 replayed, 0 sent" in capsys.readouterr().out
    assert generate(tmp_path, *argv, "--record-mode", "none", "--seed", "1") == 2
    assert "no recording for 62 generation requests" in capsys.readouterr().err  # new seed


def test_generated_suite_runs_as_a_suite(pytester, fake_openai, drone_tools):
    server = serve(fake_openai, good_answer)
    out = pytester.path / "gen.yaml"
    argv = ["--out", str(out), "--max-per-tool", "2", "--prompts-per-call", "1"]
    assert (
        generate(
            pytester.path,
            *argv,
            "--tools",
            str(drone_tools),
            "--base-url",
            server.base_url,
            "--reject-tool",
            "reject_request",
            "--rejects",
            "3",
        )
        == 0
    )
    suite = load_suite(out, pytester.path)
    script = {  # a model that answers each case as `export` would
        case.prompt: {"tool": tool, "args": args}
        for case in suite.cases
        for ((tool, args),) in [resolve_calls(case)]
    }
    model = fake_openai(script)
    result = runpytest(
        pytester,
        "gen.yaml",
        "--model=x",
        f"--toolcall-base-url={model.base_url}",
        "--toolcall-live",
    )
    assert result.ret == 0
    result.assert_outcomes(passed=len(suite.cases) + 1)  # + the gate
    assert len(suite.cases) == 9 * 2 + 6 * 1 + 3  # capped at 2 invocations, 1 prompt each


def test_unusable_answers_are_asked_again_then_reported(tmp_path, fake_openai, capsys):
    def answer(body: dict[str, Any]) -> str:
        if "The call: set_drone_speed(" in task(body):
            return "I cannot do that."  # never JSON
        if "The call: takeoff_drone(" in task(body) and "Attempt" not in task(body):
            return '{"arguments": {"altitude": "high"}, "prompts": ["a", "b", "c"]}'
        if "The call: return_to_home(" in task(body) and "Attempt" not in task(body):
            return '{"prompts": ["<request 1>", "<request 2>", "<request 3>"]}'
        return good_answer(body)

    server = serve(fake_openai, answer)
    out = tmp_path / "gen.yaml"
    status = generate(
        tmp_path,
        "--out",
        str(out),
        "--base-url",
        server.base_url,
        "--retries",
        "2",
        "--no-progress",
        "--seed",
        "5",
    )
    captured = capsys.readouterr()
    assert status == 1
    assert "1 generation request failed" in captured.err
    assert "set_drone_speed-speed: the answer holds no JSON object (after 3 attempts)" in (
        captured.err
    )
    speed = [b for b in bodies(server) if "set_drone_speed(" in task(b)]
    assert [b["seed"] for b in speed] == [5, 6, 7]  # each attempt samples differently
    assert "Attempt" not in task(speed[0])
    assert "(Attempt 2. An earlier answer could not be used: the answer holds no JSON object." in (
        task(speed[1])
    )
    assert "(Attempt 3. " in task(speed[2])
    takeoff = [b for b in bodies(server) if "The call: takeoff_drone(" in task(b)]
    assert len(takeoff) == 2
    assert "args.altitude" in task(takeoff[1])
    home = [b for b in bodies(server) if "The call: return_to_home(" in task(b)]
    assert "holds the placeholder '<request 1>'" in task(home[1])
    assert "wrote" in captured.out and "asked again" in captured.out
    suite = load_suite(out, tmp_path)
    ids = {case.id for case in suite.cases}
    assert {"takeoff_drone-altitude-1", "return_to_home-3"} <= ids
    assert not any(i.startswith("set_drone_speed") for i in ids)
    assert len(suite.cases) == (61 - 1) * 3  # reject_request is a tool here too, no params


def test_repeated_rejects_are_topped_up(tmp_path, fake_openai):
    def answer(body: dict[str, Any]) -> str:
        prompt = task(body)
        if "batch 2 of 2)" in prompt:  # repeats batch 1 and a given example
            return json.dumps(
                {"requests": ["impossible batch 1 of 2 #0", "Detect moisture", "new one"]}
            )
        return good_answer(body)

    examples = tmp_path / "near.txt"
    examples.write_text("# seed examples\nDetect moisture\nMeasure wind resistance\n")
    server = serve(fake_openai, answer)
    out = tmp_path / "gen.yaml"
    tools = tmp_path / "tools.json"
    tools.write_text(
        json.dumps(
            [
                tool("land", {"where": {"enum": ["home", "pad"]}}, ["where"]),
                tool("reject_request", {}),
            ]
        )
    )
    assert (
        generate(
            tmp_path,
            "--tools",
            str(tools),
            "--out",
            str(out),
            "--base-url",
            server.base_url,
            "--reject-tool",
            "reject_request",
            "--rejects",
            "13",
            "--near-misses",
            str(examples),
        )
        == 0
    )
    topups = [b for b in bodies(server) if "top-up 1" in task(b)]
    assert len(topups) == 1
    assert "Write 2 different" in task(topups[0])
    assert "Do not repeat any of these:\n- impossible batch 1 of 2 #0" in task(topups[0])
    first = [b for b in bodies(server) if "batch 1 of 2)" in task(b)][0]
    assert "Examples of such requests:" in task(first) and "Detect moisture" in task(first)
    suite = load_suite(out, tmp_path)
    rejects = [case.prompt for case in suite.cases if case.tags == ("rejects",)]
    assert len(rejects) == 13 == len(set(rejects))
    assert "Detect moisture" not in rejects and "new one" in rejects
    assert [case.id for case in suite.cases][-1] == "reject_request-13"


def test_progress_bar_goes_to_stderr(tmp_path, fake_openai, capsys):
    server = serve(fake_openai, good_answer)
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([tool("land", {"where": {"enum": ["a", "b", "c"]}}, ["where"])]))
    out = tmp_path / "gen.yaml"
    assert (
        generate(tmp_path, "--tools", str(tools), "--out", str(out), "--base-url", server.base_url)
        == 0
    )
    err = capsys.readouterr().err
    assert "generate [############################] 3/3 requests" in err


# ---- errors: one line, exit 2 -----------------------------------------------------------


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pytest-toolcall: error: ")
    return lines[0]


def test_missing_and_broken_tools_files(tmp_path, capsys):
    out = str(tmp_path / "x.yaml")
    assert generate(tmp_path, "--out", out, tools=tmp_path / "nope.json") == 2
    assert "tools file not found" in one_line_error(capsys)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"type": "function", ')
    assert generate(tmp_path, "--out", out, tools=broken) == 2
    assert "is not valid JSON/YAML" in one_line_error(capsys)
    broken.write_text('{"tools": []}')
    assert generate(tmp_path, "--out", out, tools=broken) == 2
    assert "non-empty list of tools" in one_line_error(capsys)


def test_no_recording_in_record_mode_none(tmp_path, capsys):
    out = tmp_path / "x.yaml"
    assert generate(tmp_path, "--out", str(out), "--record-mode", "none") == 2
    line = one_line_error(capsys)
    assert "no recording for 61 generation requests" in line
    assert "--record-mode once" in line
    assert not out.exists()


def test_no_key_and_no_base_url(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert generate(tmp_path, "--out", str(tmp_path / "x.yaml")) == 2
    assert "neither OPENAI_API_KEY nor --base-url" in one_line_error(capsys)


def test_base_url_from_the_environment(tmp_path, fake_openai, monkeypatch):
    server = serve(fake_openai, good_answer)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([tool("go", {})]))
    assert generate(tmp_path, "--tools", str(tools), "--out", str(tmp_path / "x.yaml")) == 0
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reject-tool", "nope"], "--reject-tool nope is not one of the tools"),
        (["--rejects", "3"], "--rejects needs --reject-tool"),
        (["--prompts-per-call", "0"], "--prompts-per-call: must be at least 1"),
        (["--record-mode", "sometimes"], "invalid choice: 'sometimes'"),
    ],
)
def test_bad_options(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exited:
        status = generate(tmp_path, "--out", str(tmp_path / "x.yaml"), *args)
        raise SystemExit(status)
    assert exited.value.code == 2
    assert message in one_line_error(capsys)


def test_out_must_be_a_yaml_file(tmp_path, capsys):
    assert generate(tmp_path, "--out", str(tmp_path / "x.json")) == 2
    assert "ends in .yaml or .yml" in one_line_error(capsys)


def test_a_repeated_prompt_is_left_out_and_noted(tmp_path, fake_openai, capsys):
    def answer(body: dict[str, Any]) -> str:
        if "The call:" in task(body):
            return json.dumps({"prompts": ["Land now", "land  NOW", "Go down"]})
        return good_answer(body)

    server = serve(fake_openai, answer)
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([tool("land", {"fast": {"type": "boolean"}}, ["fast"])]))
    out = tmp_path / "gen.yaml"
    status = generate(
        tmp_path,
        "--tools",
        str(tools),
        "--out",
        str(out),
        "--base-url",
        server.base_url,
        "--prompts-per-call",
        "2",
    )
    assert status == 0
    err = capsys.readouterr().err
    assert "2 cases with a repeated prompt left out" in err
    assert "land-fast-false-1: same prompt as land-fast-true-1; left out" in err
    suite = load_suite(out, tmp_path)
    assert [(c.id, c.prompt) for c in suite.cases] == [
        ("land-fast-true-1", "Land now"),
        ("land-fast-true-2", "Go down"),
    ]


def test_reject_tool_alone_asks_for_10_rejects(tmp_path, fake_openai):
    server = serve(fake_openai, good_answer)
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([tool("go", {}), tool("no", {})]))
    out = tmp_path / "gen.yaml"
    assert (
        generate(
            tmp_path,
            "--tools",
            str(tools),
            "--out",
            str(out),
            "--base-url",
            server.base_url,
            "--reject-tool",
            "no",
            "--prompts-per-call",
            "1",
        )
        == 0
    )
    suite = load_suite(out, tmp_path)
    assert [c.id for c in suite.cases] == ["go-1"] + [f"no-{n}" for n in range(1, 11)]
    assert len(server.requests) == 2


def test_an_api_error_is_reported_not_retried(tmp_path, fake_openai, capsys):
    server = fake_openai(default={"status": 400, "error": "model not found"})
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([tool("go", {})]))
    out = tmp_path / "gen.yaml"
    assert (
        generate(
            tmp_path,
            "--tools",
            str(tools),
            "--out",
            str(out),
            "--base-url",
            server.base_url,
            "--no-progress",
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "go: HTTP 400" in err and "model not found" in err
    assert "nothing written" in err
    assert len(server.requests) == 1 and not out.exists()


def test_the_suite_is_written_with_the_umask_mode_and_no_check_file_is_left(tmp_path, fake_openai):
    server = serve(fake_openai, good_answer)
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([tool("go", {})]))
    out = tmp_path / "gen.yaml"
    old_umask = os.umask(0o022)
    try:
        status = generate(
            tmp_path, "--tools", str(tools), "--out", str(out), "--base-url", server.base_url
        )
    finally:
        os.umask(old_umask)
    assert status == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cassettes", "gen.yaml", "tools.json"]


# ---- issue 13 item 24: cases that can pass --------------------------------------------------

MOVE = tool(
    "move",
    {
        "direction": {"enum": ["front", "back", "home_base"]},
        "distance": {"type": "integer"},
        "fast": {"type": "boolean"},
    },
    ["direction", "distance", "fast"],
)


def move_invocation(direction: str) -> Invocation:
    (found,) = [
        i
        for i in enumerate_invocations([MOVE])
        if i.args["direction"] == direction and i.args["fast"] is True
    ]
    return found


def fill(distance: Any, *prompts: str) -> str:
    return json.dumps({"arguments": {"distance": distance}, "prompts": list(prompts)})


def test_a_prompt_must_state_every_value_its_case_expects():
    parameters = MOVE["function"]["parameters"]
    front, home = move_invocation("front"), move_invocation("home_base")
    # obvious forms: home_base as "home base", 30 as "30" or "thirty"; booleans not checked
    _, prompts = parse_fill(
        fill(30, "Fly to the home base, 30 m", "homebase: thirty metres, hurry"),
        home,
        parameters,
        2,
    )
    assert prompts == ["Fly to the home base, 30 m", "homebase: thirty metres, hurry"]
    with pytest.raises(AnswerProblem) as problem:
        parse_fill(
            fill(7, "Move back 7 m", "Go to the front 7 m", "front, 8 m"), front, parameters, 2
        )
    message = str(problem.value)
    assert "2 of 3 prompts do not state the call's values" in message
    assert "'Move back 7 m' does not say direction='front'" in message
    assert "'front, 8 m' does not say distance=7" in message
    assert problem.value.partial == (
        {"direction": "front", "distance": 7, "fast": True},
        ["Go to the front 7 m"],
    )
    _, prompts = parse_fill(
        fill(7, "Move back 7 m", "Go to the front 7 m", "seven metres to the front"),
        front,
        parameters,
        2,
    )
    assert prompts == ["Go to the front 7 m", "seven metres to the front"]  # the extra one used


def move_answer(body: dict[str, Any]) -> str:
    """move(front): one prompt says "back" at first, fixed when asked again; move(back):
    always one prompt without the distance; the rest as a cooperative model."""
    prompt = task(body)
    call = re.search(r"^The call: move\((.*)\)$", prompt, re.MULTILINE)
    if call is None:
        return good_answer(body)
    direction = re.search(r'direction="(\w+)"', call.group(1)).group(1)
    fast = "fast=true" in call.group(1)
    speed = "quickly" if fast else "slowly"
    good = [f"{speed} go {direction} 12 m", f"{direction} 12 metres {speed}"]
    if direction == "front" and "Attempt" not in prompt:
        return fill(12, f"{speed} go back 12 m", *good)
    if direction == "back":
        return fill(12, f"{speed} go back, far", *good)
    return fill(12, f"{speed} {direction}: twelve m", *good)


def test_prompts_that_do_not_state_their_values_are_asked_again_then_dropped_and_reported(
    tmp_path, fake_openai, capsys
):
    server = serve(fake_openai, move_answer)
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([MOVE]))
    out = tmp_path / "gen.yaml"
    argv = ["--tools", str(tools), "--out", str(out), "--base-url", server.base_url]
    assert generate(tmp_path, *argv, "--retries", "1", "--no-progress") == 0
    captured = capsys.readouterr()
    front = [
        b
        for b in bodies(server)
        if 'move(direction="front", distance=<choose>, fast=true)' in task(b)
    ]
    assert len(front) == 2  # asked again once
    assert "(Attempt 2. An earlier answer could not be used: 1 of 3 prompts do not state" in (
        task(front[1])
    )
    assert "does not say direction='front'" in task(front[1])
    assert "2 invocations kept fewer prompts (the others did not state the call's values)" in (
        captured.err
    )
    assert "move-back-distance-fast-true: 1 of 3 prompts do not state" in captured.err
    assert "does not say distance=" in captured.err and "(after 2 attempts)" in captured.err
    suite = load_suite(out, tmp_path)
    prompts = {case.id: case.prompt for case in suite.cases}
    assert prompts["move-front-distance-fast-true-1"] == "quickly front: twelve m"
    assert "move-back-distance-fast-true-3" not in prompts  # only 2 of 3 stated the values
    assert prompts["move-back-distance-fast-true-2"] == "back 12 metres quickly"
    assert not any("far" in p for p in prompts.values())
    assert not any("back" in p for i, p in prompts.items() if i.startswith("move-front"))


REMIND = tool(
    "remind",
    {"text": {"type": "string"}, "when": {"enum": ["today", "tomorrow"]}},
    ["text", "when"],
)


def remind_answer(body: dict[str, Any]) -> str:
    when = re.search(r'when="(\w+)"', task(body)).group(1)
    if "Attempt" not in task(body) and when == "tomorrow":
        prompts = ["Remind me tomorrow, you know what about", f"{when}: ring my pal for supper"]
    else:
        prompts = [f"Remind me {when} to ring my friend about dinner", f"{when}: DINNER tonight"]
    return json.dumps(
        {"arguments": {"text": "Call your friend for dinner tonight"}, "prompts": prompts}
    )


def test_free_text_is_expected_by_a_key_word_of_its_prompt_and_a_paraphrase_passes(
    pytester, fake_openai
):
    generator = serve(fake_openai, remind_answer)
    tools = pytester.path / "tools.json"
    tools.write_text(json.dumps([REMIND]))
    out = pytester.path / "gen.yaml"
    argv = ["--tools", str(tools), "--out", str(out), "--base-url", generator.base_url]
    assert generate(pytester.path, *argv, "--prompts-per-call", "2", "--no-progress") == 0
    asked_again = [b for b in bodies(generator) if "Attempt 2" in task(b)]
    assert len(asked_again) == 1  # "tomorrow" prompts named no key word of the text
    assert (
        "'tomorrow: ring my pal for supper' does not say text='Call your friend for dinner "
        "tonight'" in task(asked_again[0])
    )
    text = out.read_text()
    assert "# Free text (a string argument without an enum) is expected as {$one_of:" in text
    suite = load_suite(out, pytester.path)
    by_id = {case.id: case for case in suite.cases}
    assert by_id["remind-text-today-1"].expect["args"] == {
        "text": {
            "$one_of": [
                "Call your friend for dinner tonight",
                {"$regex": r"(?is).*\b(?:friend|dinner).*"},
            ]
        },
        "when": "today",
    }
    assert by_id["remind-text-today-2"].expect["args"]["text"]["$one_of"][1] == {
        "$regex": r"(?is).*\b(?:dinner|tonight).*"
    }
    # a model under test that paraphrases the free text, as models do
    paraphrase = {
        case.prompt: {
            "tool": "remind",
            "args": {"text": "ring my Friend re: dinner", "when": case.expect["args"]["when"]},
        }
        for case in suite.cases
    }
    model = fake_openai(paraphrase)
    result = runpytest(
        pytester,
        "gen.yaml",
        "--model=x",
        f"--toolcall-base-url={model.base_url}",
        "--toolcall-live",
    )
    result.assert_outcomes(passed=len(suite.cases) + 1)  # + the gate
    assert main(["export", str(out), "--out", str(pytester.path / "t.jsonl")]) == 0
    lines = [json.loads(line) for line in (pytester.path / "t.jsonl").read_text().splitlines()]
    answers = [line["messages"][-1]["tool_calls"][0]["function"]["arguments"] for line in lines]
    assert {json.loads(a)["text"] for a in answers} == {"Call your friend for dinner tonight"}


def test_the_suite_has_a_threshold_with_a_comment_saying_why(tmp_path, fake_openai):
    server = serve(fake_openai, good_answer)
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([tool("go", {})]))
    out = tmp_path / "gen.yaml"
    argv = ["--tools", str(tools), "--out", str(out), "--base-url", server.base_url]
    assert generate(tmp_path, *argv) == 0
    text = out.read_text()
    assert "\n# threshold: generated cases are unreviewed" in text
    assert "\nthreshold: 0.8\n" in text
    assert load_suite(out, tmp_path).threshold == 0.8
    assert "Free text" not in text  # no free text here, no comment about it
    assert generate(tmp_path, *argv, "--threshold", "1") == 0
    assert load_suite(out, tmp_path).threshold == 1.0


# ---- probes: interrupted runs, odd answers ---------------------------------------------------


class Interrupt:
    """A progress callback that presses Ctrl-C once `after` requests are answered."""

    def __init__(self, after: int) -> None:
        self.after = after

    def __call__(self, done: int, total: int) -> None:
        if done >= self.after:
            raise KeyboardInterrupt


def options_for(tmp_path: Path, base_url: str, **changes: Any) -> GenerateOptions:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([tool("land", {"where": {"enum": list("abcdef")}}, ["where"])]))
    return GenerateOptions(
        tools_path=tools,
        model="gen/m:1",
        out=tmp_path / "gen.yaml",
        send=SendSettings(base_url=base_url, api_key=None, concurrency=1),
        **changes,
    )


def recorded(options: GenerateOptions) -> int:
    path = generation_cassette_path(options.out, options.model)
    return len(json.loads(path.read_text())["interactions"])


def test_a_rerun_after_ctrl_c_replays_what_was_paid_for(tmp_path, fake_openai):
    server = serve(fake_openai, good_answer)
    options = options_for(tmp_path, server.base_url)
    with pytest.raises(KeyboardInterrupt):
        run_generate(options, Interrupt(after=2))
    paid = len(server.requests)  # 2 answered, and the one in flight when Ctrl-C came
    assert paid in (2, 3) and recorded(options) == paid  # in flight was awaited and kept
    report = run_generate(options)
    assert (report.counts.replayed, report.counts.sent) == (paid, 6 - paid)
    assert len(server.requests) == 6  # none asked twice


def test_an_interrupted_rewrite_keeps_the_recordings_it_did_not_reach(tmp_path, fake_openai):
    server = serve(fake_openai, good_answer)
    options = options_for(tmp_path, server.base_url)
    run_generate(options)
    assert recorded(options) == 6
    rewrite = options_for(tmp_path, server.base_url, record_mode="rewrite")
    with pytest.raises(KeyboardInterrupt):
        run_generate(rewrite, Interrupt(after=2))
    assert recorded(options) == 6  # 2 asked again, 4 not reached yet: kept, not dropped
    report = run_generate(options_for(tmp_path, server.base_url, record_mode="none"))
    assert report.counts.replayed == 6 and report.written


def test_text_that_is_not_valid_unicode_is_asked_again_not_a_crash(tmp_path, fake_openai, capsys):
    def answer(body: dict[str, Any]) -> str:
        text = good_answer(body)
        if "Attempt" not in task(body):  # JSON may carry a lone surrogate; UTF-8 cannot
            return text.replace("please", "please \\ud83d")
        return text

    server = serve(fake_openai, answer)
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([tool("land", {"where": {"enum": ["home", "pad"]}}, ["where"])]))
    out = tmp_path / "gen.yaml"
    argv = ["--tools", str(tools), "--out", str(out), "--base-url", server.base_url]
    assert generate(tmp_path, *argv, "--no-progress") == 0
    asked_again = [b for b in bodies(server) if "Attempt 2" in task(b)]
    assert len(asked_again) == 2
    assert "not valid Unicode" in task(asked_again[0])
    assert len(load_suite(out, tmp_path).cases) == 2 * 3


def test_a_tools_file_in_the_responses_form_is_read_as_chat_tools(tmp_path):
    from pytest_toolcall.datagen.generation_inputs import read_tools

    flat = [{"type": "function", "name": "land", "parameters": {"type": "object"}}]
    (tmp_path / "tools.json").write_text(json.dumps(flat))
    assert read_tools(tmp_path / "tools.json") == [
        {"type": "function", "function": {"name": "land", "parameters": {"type": "object"}}}
    ]
