"""`messages:` items are checked like the rest of a case file, before any request."""

from __future__ import annotations

import textwrap

import pytest
from helpers import runpytest

HEAD = """\
tools: tools.json
cases:
  - id: chat
    expect: {tool: land_drone}
    messages:
"""

# name -> (the messages list, indented under `messages:`, the error line that must show)
BROKEN: dict[str, tuple[str, str]] = {
    "unquoted-comma": (
        "      - {role: user, content: That is unacceptable, I want a human}\n",
        "suite.yaml:6: case 'chat': messages[0]: unknown key 'I want a human' with no value: "
        "an unquoted comma inside {...} ends the text there; quote it: "
        'content: "That is unacceptable, I want a human"',
    ),
    "unknown-role": (
        "      - {role: human, content: land}\n",
        "suite.yaml:6: case 'chat': messages[0].role: 'human' is not one of system, developer, "
        "user, assistant, tool",
    ),
    "no-role": (
        "      - {content: land}\n",
        "suite.yaml:6: case 'chat': messages[0]: 'role' is a required property",
    ),
    "content-a-mapping": (
        "      - role: user\n        content: {text: land}\n",
        "suite.yaml:7: case 'chat': messages[0].content: must be text (or a list of content "
        "parts), got a mapping",
    ),
    "user-without-content": (
        "      - {role: user}\n",
        "suite.yaml:6: case 'chat': messages[0]: a user message needs 'content'",
    ),
    "unknown-tool": (
        "      - {role: user, content: land}\n"
        "      - role: assistant\n"
        "        tool_calls:\n"
        "          - {id: c1, type: function, function: {name: land, arguments: '{}'}}\n"
        "      - {role: tool, tool_call_id: c1, content: ok}\n"
        "      - {role: user, content: again}\n",
        "suite.yaml:9: case 'chat': messages[1].tool_calls[0].function.name: 'land' is not one "
        "of the case's tools: calibrate_sensors, configure_led_display",
    ),
    "arguments-a-mapping": (
        "      - {role: user, content: land}\n"
        "      - role: assistant\n"
        "        tool_calls:\n"
        "          - id: c1\n"
        "            type: function\n"
        "            function: {name: land_drone, arguments: {location: home_base}}\n"
        "      - {role: tool, tool_call_id: c1, content: ok}\n"
        "      - {role: user, content: again}\n",
        "suite.yaml:11: case 'chat': messages[1].tool_calls[0].function.arguments: must be a "
        "JSON string, as the API sends it, not a mapping; write it "
        'arguments: \'{"location": "home_base"}\'',
    ),
    "arguments-not-json": (
        "      - {role: user, content: land}\n"
        "      - role: assistant\n"
        "        tool_calls:\n"
        "          - {id: c1, type: function, function: {name: land_drone, arguments: '{loc'}}\n"
        "      - {role: tool, tool_call_id: c1, content: ok}\n"
        "      - {role: user, content: again}\n",
        "suite.yaml:9: case 'chat': messages[1].tool_calls[0].function.arguments: not a JSON "
        "object: '{loc'",
    ),
    "tool-without-id": (
        "      - {role: user, content: land}\n"
        "      - role: assistant\n"
        "        tool_calls:\n"
        "          - {id: c1, type: function, function: {name: land_drone, arguments: '{}'}}\n"
        "      - {role: tool, content: ok}\n"
        "      - {role: user, content: again}\n",
        "suite.yaml:10: case 'chat': messages[2]: a tool message needs 'tool_call_id' "
        "(the id of the call it answers: c1)",
    ),
    "tool-answers-unknown-id": (
        "      - {role: user, content: land}\n"
        "      - role: assistant\n"
        "        tool_calls:\n"
        "          - {id: c1, type: function, function: {name: land_drone, arguments: '{}'}}\n"
        "      - {role: tool, tool_call_id: c2, content: ok}\n"
        "      - {role: user, content: again}\n",
        "suite.yaml:10: case 'chat': messages[2].tool_call_id: 'c2' is not the id of an "
        "earlier tool call (earlier ids: c1)",
    ),
    "tool-before-any-call": (
        "      - {role: tool, tool_call_id: c1, content: ok}\n      - {role: user, content: x}\n",
        "suite.yaml:6: case 'chat': messages[0].tool_call_id: 'c1' is not the id of an "
        "earlier tool call (earlier ids: none)",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_message_is_a_collection_error(pytester, fake_openai, drone_tools, name):
    messages, line = BROKEN[name]
    pytester.makefile(".yaml", suite=HEAD + messages)
    server = fake_openai({})
    result = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live"
    )
    output = result.stdout.str()
    assert result.ret != 0, output
    assert line in output, output
    assert server.requests == []
    assert "Traceback" not in output


def test_a_well_formed_conversation_collects_and_is_sent_as_written(
    pytester, fake_openai, drone_tools
):
    pytester.makefile(
        ".yaml",
        suite=textwrap.dedent(
            """\
            tools: tools.json
            cases:
              - id: chat
                messages:
                  - {role: developer, content: be brief}
                  - role: user
                    content: [{type: text, text: Take off}]
                  - role: assistant
                    content: null
                    tool_calls:
                      - id: c1
                        type: function
                        function: {name: takeoff_drone, arguments: '{"altitude": 10}'}
                  - {role: tool, tool_call_id: c1, content: ok}
                  - {role: user, content: "Now land, please: at home"}
                expect: {tool: land_drone, args: {location: home_base}}
            """
        ),
    )
    server = fake_openai(
        {"Now land, please: at home": {"tool": "land_drone", "args": {"location": "home_base"}}}
    )
    result = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live"
    )
    assert result.ret == 0, result.stdout.str()
    (request,) = server.requests
    sent = request["body"]["messages"]
    assert [m["role"] for m in sent] == ["developer", "user", "assistant", "tool", "user"]
    assert sent[2]["tool_calls"][0]["function"]["arguments"] == '{"altitude": 10}'
