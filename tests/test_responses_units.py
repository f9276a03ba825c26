"""Units of the Responses API support: answers parsed, tools rendered, params translated."""

from __future__ import annotations

import json

import pytest

from pytest_toolcall.collect.tool_formats import chat_tools, responses_tools, to_responses
from pytest_toolcall.send.answers import parse_completion
from pytest_toolcall.send.bodies import body_api, request_path
from pytest_toolcall.send.responses import chat_only, chat_params, input_items, responses_params


def response(*output, **extra) -> bytes:
    return json.dumps(
        {"object": "response", "status": "completed", "output": list(output), **extra}
    ).encode()


CALL = {"type": "function_call", "call_id": "c", "name": "land_drone", "arguments": '{"a": 1}'}
REASONING = {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "hm"}]}


def message(*texts: str) -> dict:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": t} for t in texts],
    }


def test_function_call_items_are_the_calls_in_order_and_reasoning_is_ignored():
    second = {**CALL, "name": "takeoff_drone", "arguments": {"altitude": 3}}
    answer = parse_completion(response(REASONING, CALL, message("ok"), second), latency_ms=1)
    assert answer.error is None
    assert [(c.name, c.arguments) for c in answer.calls] == [
        ("land_drone", '{"a": 1}'),
        ("takeoff_drone", '{"altitude": 3}'),
    ]
    assert answer.text == "ok"
    bare = parse_completion(response(CALL), latency_ms=1)
    assert bare.error is None and bare.text is None and len(bare.calls) == 1


def test_text_and_usage_of_a_responses_answer():
    usage = {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15}
    answer = parse_completion(response(REASONING, message("a", "b"), usage=usage), latency_ms=1)
    assert (answer.calls, answer.text) == ((), "ab")
    assert (answer.prompt_tokens, answer.completion_tokens, answer.total_tokens) == (12, 3, 15)
    chat = {
        "choices": [{"message": {"content": "x"}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
    }
    chat_answer = parse_completion(json.dumps(chat).encode(), latency_ms=1)
    assert (chat_answer.prompt_tokens, chat_answer.completion_tokens) == (7, 2)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (response(status="failed", error=None), "failed response"),
        (json.dumps({"object": "response", "output": None}).encode(), "has no output list"),
        (response({"type": "function_call", "arguments": "{}"}), "function_call without a name"),
        (response("text"), "output item 0 that is not an object"),
        (response({"type": "message", "content": "hi"}), "content is not a list"),
        (
            response({"type": "message", "content": [{"type": "output_text"}]}),
            "output_text that is not text",
        ),
        (json.dumps({"object": "response", "error": {"message": "boom"}}).encode(), "boom"),
    ],
)
def test_unusable_responses_answers_say_why(body, says):
    answer = parse_completion(body, latency_ms=None)
    assert answer.error is not None and says in answer.error


def test_tools_either_form_to_internal_and_to_flat():
    chat = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    flat = {"type": "function", "name": "g", "description": "d", "strict": True}
    internal = chat_tools([chat, flat])
    assert internal[0] is chat  # a Chat tool is kept as written: Chat bodies do not change
    assert internal[1] == {
        "type": "function",
        "function": {"name": "g", "description": "d", "strict": True},
    }
    assert to_responses(internal[0]) == {
        "type": "function",
        "name": "f",
        "parameters": {"type": "object"},
        "strict": False,
    }
    assert to_responses(internal[1])["strict"] is True
    assert responses_tools(internal) is responses_tools(internal)  # rendered once


def test_params_translated_and_chat_only_ones_named():
    params = {
        "temperature": 0,
        "max_tokens": 9,
        "seed": 1,
        "n": 2,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
        "logprobs": True,
        "top_logprobs": 2,
    }
    assert chat_only(params) == ["seed", "n"]
    assert responses_params(params) == {
        "temperature": 0,
        "max_output_tokens": 9,
        "text": {"format": {"type": "json_schema", "name": "x", "schema": {}}},
        "include": ["message.output_text.logprobs"],
        "top_logprobs": 2,
    }
    written = {"temperature": 0, "seed": 1}
    assert chat_params(written) == written  # Chat bodies keep params as written
    assert chat_params({"max_output_tokens": 5, "reasoning": {"effort": "low"}}) == {
        "max_tokens": 5,
        "reasoning_effort": "low",
    }


def test_input_items_of_content_parts_and_paths():
    items = input_items(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "u"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "done"}]},
        ]
    )
    assert items == [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "hi"},
                {"type": "input_image", "image_url": "u"},
            ],
        },
        {"type": "function_call_output", "call_id": "c", "output": "done"},
    ]
    assert (body_api({"input": []}), request_path({"input": []})) == ("responses", "/responses")
    assert (body_api({"messages": []}), request_path({"messages": []})) == (
        "chat",
        "/chat/completions",
    )
