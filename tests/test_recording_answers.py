"""Only real answers count: a 2xx body that is not a Chat Completions answer is an error,
said in one line, and it is never recorded, so `once` asks again next run."""

from __future__ import annotations

import json

import pytest
from helpers import runpytest
from test_cassettes import NO_SOCKETS, answers, cassette, drone_suite

from pytest_toolcall.send.answers import parse_completion


def completion(message: object, **extra: object) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": message}], **extra}).encode()


CALL = {"id": "c", "type": "function", "function": {"name": "land_drone", "arguments": "{}"}}

NOT_ANSWERS = {
    "empty choices": (b'{"id": "x", "choices": []}', "has no choices"),
    "no choices": (b'{"id": "x"}', "has no choices"),
    "choices not a list": (b'{"choices": {"0": {}}}', "has no choices"),
    "html": (b"<html><body>502 Bad Gateway</body></html>", "is not JSON: '<html>"),
    "error with 200": (
        b'{"error": {"message": "model overloaded", "type": "server_error"}}',
        "is an error, though its status is 2xx: model overloaded",
    ),
    "error string with 200": (
        b'{"error": "quota"}',
        'is an error, though its status is 2xx: "quota"',
    ),
    "message a string": (completion("land now"), 'has a message that is not an object: "land now"'),
    "message null": (completion(None), "has a message that is not an object: null"),
    "choice a string": (b'{"choices": ["hi"]}', "has a choice that is not an object"),
    "tool_calls a string": (
        completion({"role": "assistant", "tool_calls": "land_drone"}),
        'has tool_calls that is not a list: "land_drone"',
    ),
    "tool_calls an object": (
        completion({"role": "assistant", "tool_calls": CALL}),
        "has tool_calls that is not a list",
    ),
    "call without function": (
        completion({"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}),
        "has tool call 0 without a function",
    ),
    "call without a name": (
        completion({"tool_calls": [{"function": {"arguments": "{}"}}]}),
        "has tool call 0 without a function name",
    ),
    "call with an empty name": (
        completion({"tool_calls": [CALL, {"function": {"name": "", "arguments": "{}"}}]}),
        "has tool call 1 without a function name",
    ),
    "call a string": (completion({"tool_calls": ["land_drone"]}), "has tool call 0 that is not"),
    "content a list": (
        completion({"content": [{"type": "text", "text": "hi"}]}),
        "has a message content that is not text",
    ),
    "not UTF-8": (b'{"choices": [{"message": {"content": "\xff\xfe"}}]}', "is not UTF-8 text"),
    "a JSON list": (b"[1, 2]", "is not a JSON object"),
    "empty body": (b"", "is not JSON"),
}


@pytest.mark.parametrize("body, reason", NOT_ANSWERS.values(), ids=NOT_ANSWERS.keys())
def test_a_2xx_body_that_is_not_an_answer_is_an_error_saying_why(body, reason):
    answer = parse_completion(body, latency_ms=3.0)
    assert answer.error is not None
    assert answer.error.startswith("the server's answer ")
    assert reason in answer.error, answer.error
    assert "\n" not in answer.error and len(answer.error) < 200
    assert answer.calls == () and answer.latency_ms == 3.0


def test_real_answers_parse_as_before():
    text = parse_completion(completion({"role": "assistant", "content": "hello"}), latency_ms=1)
    assert text.error is None and text.text == "hello" and text.calls == ()
    both = parse_completion(
        completion(
            {
                "content": None,
                "tool_calls": [CALL, {"function": {"name": "f", "arguments": {"a": 1}}}],
            },
            usage={"total_tokens": 12},
        ),
        latency_ms=None,
    )
    assert both.error is None and both.total_tokens == 12
    assert [(c.name, c.arguments) for c in both.calls] == [("land_drone", "{}"), ("f", '{"a": 1}')]
    null_calls = parse_completion(completion({"content": "x", "tool_calls": None}), latency_ms=1)
    assert null_calls.error is None and null_calls.calls == ()
    odd_usage = parse_completion(
        completion({"content": "x"}, usage={"total_tokens": "9"}), latency_ms=1
    )
    assert odd_usage.error is None and odd_usage.total_tokens is None


ODD_BODIES = [
    b"",
    b" ",
    b"null",
    b"true",
    b"0",
    b'"choices"',
    b"{",
    b"\x00\x01\x02",
    b"\xff" * 10,
    b"\xef\xbb\xbf{}",  # a BOM
    "{}".encode("utf-16"),
    b'{"choices": null}',
    b'{"choices": [null]}',
    b'{"choices": [[]]}',
    b'{"choices": [{"message": []}]}',
    b'{"choices": [{"message": {"tool_calls": [null]}}]}',
    b'{"choices": [{"message": {"tool_calls": [{"function": null}]}}]}',
    b'{"choices": [{"message": {"tool_calls": [{"function": {"name": 7}}]}}]}',
    b'{"choices": [{"message": {"tool_calls": [{"function": {"name": ["x"]}}]}}]}',
    b'{"choices": [{"message": {"content": 5}}]}',
    b'{"choices": [{"message": {}}], "usage": []}',
    b'{"choices": [{"message": {}}], "usage": {"total_tokens": true}}',
    b'{"choices": [{"message": {}}], "error": null}',
    b'{"error": {"message": null}}',
    b'{"error": {"message": "line one\\nline two"}}',
    b'{"error": []}',
    b"NaN",
    b'{"choices": [{"message": {"content": "\\ud800"}}]}',  # a lone surrogate
    b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser's recursion limit
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'{"choices": [{"message": {"content": "' + b"x" * 5_000_000 + b'"}}]}',
    b"<html>" + b"y" * 2_000_000,
    b'{"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": 1e999}}]}}]'
    b"}",
    bytearray(b'{"choices": [{"message": {"content": "x"}}]}'),
    memoryview(b'{"choices": [{"message": {"content": "x"}}]}'),
]


@pytest.mark.parametrize("body", ODD_BODIES, ids=range(len(ODD_BODIES)))
def test_parse_completion_never_raises(body):
    answer = parse_completion(body, latency_ms=None)
    assert answer.error is None or ("\n" not in answer.error and len(answer.error) < 200)
    assert answer.error is not None or answer.calls or answer.text is not None or body[:1] == b"{"


def test_an_answer_held_as_text_parses_as_its_bytes_do():
    good = '{"choices": [{"message": {"content": "caf\u00e9"}}]}'
    assert parse_completion(good, latency_ms=1.0) == parse_completion(good.encode(), latency_ms=1.0)
    lone = parse_completion('{"choices": [{"message": {"content": "\ud800"}}]}', latency_ms=None)
    assert lone.error is not None and "is not UTF-8 text" in lone.error


@pytest.mark.parametrize(
    "script",
    [
        {"choices": []},
        {"raw": "<html><body>Bad gateway</body></html>"},
        {"raw": '{"error": {"message": "overloaded"}}'},
        {"raw": '{"choices": [{"message": "land now"}]}'},
        {"raw": '{"choices": [{"message": {"tool_calls": "land_drone"}}]}'},
        {"raw": '{"choices": [{"message": {"tool_calls": [{"function": {"arguments": "{}"}}]}}]}'},
    ],
    ids=["empty choices", "html", "error", "message string", "calls string", "no name"],
)
def test_a_non_answer_is_never_recorded_and_once_asks_again(
    pytester, fake_openai, drone_tools, script
):
    pytester.makefile(".yaml", suite=drone_suite(2))
    good = answers(2)
    server = fake_openai({"move 0": [script, good["move 0"]], "move 1": good["move 1"]})
    base = f"--toolcall-base-url={server.base_url}"
    first = runpytest(pytester, "--model=m", base, "--record-mode=once")
    assert first.parseoutcomes()["errors"] == 1  # c0; c1 passes (the gate is not our concern)
    first.stdout.fnmatch_lines(["*the server's answer *"])
    data = json.loads(cassette(pytester).read_text())
    assert len(data["interactions"]) == 1  # only c1's real answer
    assert "move 1" in data["interactions"][0]["request"]["body"]

    again = runpytest(pytester, "--model=m", base, "--record-mode=once")
    again.assert_outcomes(passed=3)
    prompts = server.prompts()
    assert sorted(prompts[:2]) == ["move 0", "move 1"] and prompts[2:] == ["move 0"]  # only c0
    assert len(json.loads(cassette(pytester).read_text())["interactions"]) == 2
    server.stop()
    pytester.makeconftest(NO_SOCKETS)
    runpytest(pytester, "--model=m").assert_outcomes(passed=3)


def test_an_unusable_answer_already_recorded_is_reported_then_asked_again(
    pytester, fake_openai, drone_tools
):
    pytester.makefile(".yaml", suite=drone_suite(2))
    server = fake_openai(answers(2))
    base = f"--toolcall-base-url={server.base_url}"
    runpytest(pytester, "--model=m", base, "--record-mode=once").assert_outcomes(passed=3)
    # As an older version stored it: a 200 that is not an answer, for c0.
    data = json.loads(cassette(pytester).read_text())
    data["interactions"][0]["response"]["body"]["string"] = '{"id": "x", "choices": []}'
    cassette(pytester).write_text(json.dumps(data, indent=4))

    replayed = runpytest(pytester, "--model=m")
    assert replayed.parseoutcomes()["errors"] == 1
    replayed.stdout.fnmatch_lines(["*is not usable (the server's answer has no choices)*"])
    assert len(server.requests) == 2

    again = runpytest(pytester, "--model=m", base, "--record-mode=once")
    again.assert_outcomes(passed=3)
    assert server.prompts()[2:] == ["move 0"]  # asked again, and only that
    server.stop()
    pytester.makeconftest(NO_SOCKETS)
    runpytest(pytester, "--model=m").assert_outcomes(passed=3)
