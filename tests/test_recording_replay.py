"""Recording as a user runs it: what is sent is saved, and replays exactly, also by vcrpy."""

from __future__ import annotations

import json
import random
import textwrap

from helpers import runpytest
from test_cassettes import NO_SOCKETS, cassette, drone_suite

FLEET_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "land_drone",
            "description": "Land a drone of a fleet.",
            "parameters": {
                "type": "object",
                "properties": {"fleet": {"type": "string"}, "location": {"type": "string"}},
                "required": ["fleet", "location"],
            },
        },
    }
]


def test_header_values_never_rewrite_recorded_answers(pytester, fake_openai):
    (pytester.path / "tools.json").write_text(json.dumps(FLEET_TOOLS))
    pytester.makeini(
        "[pytest]\ntoolcall_headers =\n    X-Region: home\n    X-Debug: 1\n"
        "    X-Fleet: north-sea-fleet-alpha\n"
    )
    args = {"fleet": "north-sea-fleet-alpha", "location": "home_base"}
    pytester.makefile(
        ".yaml",
        suite="suite: s\ntools: tools.json\ncases:\n"
        "  - id: c0\n    prompt: land\n"
        f"    expect: {{tool: land_drone, args: {json.dumps(args)}}}\n",
    )
    server = fake_openai({"land": {"tool": "land_drone", "args": args, "text": "1 drone: home"}})
    recorded = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once"
    )
    recorded.assert_outcomes(passed=2)
    sent = {k.lower(): v for k, v in server.requests[0]["headers"].items()}
    assert sent["x-region"] == "home" and sent["x-fleet"] == "north-sea-fleet-alpha"
    interaction = json.loads(cassette(pytester).read_text())["interactions"][0]
    answer = json.loads(interaction["response"]["body"]["string"])["choices"][0]["message"]
    assert json.loads(answer["tool_calls"][0]["function"]["arguments"]) == args
    assert answer["content"] == "1 drone: home"
    server.stop()
    pytester.makeconftest(NO_SOCKETS)
    runpytest(pytester, "--model=m").assert_outcomes(passed=2)


def test_repeat_with_concurrency_saves_every_sample_sent(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=drone_suite(37))
    rng = random.Random(13)

    def respond(body):
        prompt = body["messages"][-1]["content"]
        distance = int(prompt.split()[1])
        args = {"direction": "forward", "distance": distance}
        return {"tool": "control_drone_movement", "args": args, "delay": rng.uniform(0, 0.03)}

    server = fake_openai(respond=respond)
    recorded = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--record-mode=once",
        "--toolcall-repeat=3",
        "--toolcall-concurrency=8",
    )
    assert recorded.ret == 0, recorded.stdout.str()
    assert len(server.requests) == 111
    data = json.loads(cassette(pytester).read_text())
    assert len(data["interactions"]) == len(server.requests)
    facts = data["metadata"]["pytest_toolcall"]["interactions"].values()
    assert sorted(sorted(map(int, f["samples"])) for f in facts) == [[0, 1, 2]] * 37
    server.stop()
    pytester.makeconftest(NO_SOCKETS)
    replayed = runpytest(pytester, "--model=m", "--toolcall-repeat=3")
    assert replayed.ret == 0, replayed.stdout.str()
    replayed.assert_outcomes(passed=38)


USER_TEST = """
import json
import pathlib

import openai
import vcr

CASSETTE = pathlib.Path(__file__).parent / "cassettes" / "m" / "suite.json"
BASE_URL = {base_url!r}


def recorded_request():
    data = json.loads(CASSETTE.read_text())
    return json.loads(data["interactions"][0]["request"]["body"])


def test_sdk_call_replayed_by_plain_vcrpy():
    with vcr.use_cassette(str(CASSETTE), record_mode="none") as played:
        client = openai.OpenAI(api_key="sk-anything", base_url=BASE_URL, max_retries=0)
        completion = client.chat.completions.create(**recorded_request())
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "control_drone_movement"
    assert json.loads(call.function.arguments) == {{"direction": "forward", "distance": 0}}
    assert played.play_count == 1


def test_with_the_matchers_a_user_sets():
    matchers = ["method", "path", "body"]
    with vcr.use_cassette(str(CASSETTE), record_mode="none", match_on=matchers) as played:
        client = openai.OpenAI(api_key="sk-anything", base_url=BASE_URL, max_retries=0)
        body = recorded_request()
        body["messages"][-1]["content"] = "move 1"
        completion = client.chat.completions.create(**body)
    call = completion.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments)["distance"] == 1
    assert played.play_count == 1
"""


def test_plain_vcrpy_replays_our_cassette_for_a_users_sdk_call(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=drone_suite(2))
    server = fake_openai(
        {
            f"move {i}": {
                "tool": "control_drone_movement",
                "args": {"direction": "forward", "distance": i},
            }
            for i in range(2)
        }
    )
    base_url = server.base_url
    recorded = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={base_url}", "--record-mode=once"
    )
    recorded.assert_outcomes(passed=3)
    server.stop()  # no network from here on
    pytester.makepyfile(test_user=textwrap.dedent(USER_TEST.format(base_url=base_url)))
    pytester.makeconftest(NO_SOCKETS)
    replayed = runpytest(pytester, "test_user.py", "-p", "no:toolcall")
    replayed.assert_outcomes(passed=2)
