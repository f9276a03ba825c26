"""Broken case files: one clear collection error each, no traceback, other files still run."""

from __future__ import annotations

import pytest
from helpers import runpytest

GOOD = """\
tools: tools.json
cases:
  - {id: fine, prompt: thanks, expect: {no_call: true}}
"""

CASE = (
    "  - id: land\n    prompt: Land now\n"
    "    expect: {tool: land_drone, args: {location: home_base}}\n"
)

# name -> (file text, fragments the error must contain, in order)
BROKEN: dict[str, tuple[str | bytes, list[str]]] = {
    "yaml-syntax": (
        "tools: tools.json\ncases:\n  - id: x\n    prompt: [unclosed\n",
        ["broken.yaml:", "invalid YAML"],
    ),
    "tab-indent": (
        "tools: tools.json\ncases:\n\t- id: x\n",
        ["broken.yaml:3", "invalid YAML", "a tab: YAML indents with spaces only"],
    ),
    "unknown-case-key": (
        "tools: tools.json\ncases:\n  - id: x\n    promt: Land\n    expect: {no_call: true}\n",
        ["broken.yaml:4", "case 'x'", "unknown key 'promt' (did you mean 'prompt'?)"],
    ),
    "unknown-top-key": (
        "tools: tools.json\ntreshold: 0.5\ncases:\n" + CASE,
        ["broken.yaml:2", "unknown key 'treshold' (did you mean 'threshold'?)"],
    ),
    "wrong-type": (
        "tools: tools.json\nthreshold: high\ncases:\n" + CASE,
        ["broken.yaml:2", "threshold: 'high' is not of type 'number'"],
    ),
    "threshold-over-one": (
        "tools: tools.json\nthreshold: 1.5\ncases:\n" + CASE,
        ["broken.yaml:2", "threshold: 1.5 is greater than the maximum of 1"],
    ),
    "no-cases": ("tools: tools.json\ncases: []\n", ["broken.yaml", "cases", "non-empty"]),
    "cases-only-inside-a-string": (  # (a line `cases:`, no top-level key: was a KeyError)
        'tools: tools.json\nsystem: "You fly a drone\ncases: none"\n',
        ["broken.yaml:1", "'cases' is a required property"],
    ),
    "duplicate-ids": (
        "tools: tools.json\ncases:\n" + CASE + CASE,
        ["broken.yaml:6", "case 'land'", "duplicate id, first used on line 3"],
    ),
    "missing-tools-file": (
        "tools: nothere.json\ncases:\n" + CASE,
        ["broken.yaml:1", "tools file not found", "nothere.json"],
    ),
    "invalid-tools-file": (
        "tools: bad_tools.json\ncases:\n" + CASE,
        ["broken.yaml:1", "bad_tools.json", "is not valid JSON/YAML"],
    ),
    "tools-file-wrong-shape": (
        "tools: shape_tools.json\ncases:\n" + CASE,
        ["broken.yaml:1", "shape_tools.json", "'function' is a required property"],
    ),
    "invalid-parameters-schema": (
        "tools:\n  - type: function\n    function: {name: f, parameters: {type: objectt}}\n"
        "cases:\n  - {id: c, prompt: p, expect: {tool: f}}\n",
        ["broken.yaml", "tool 'f': parameters is not a valid JSON Schema"],
    ),
    "unknown-tool": (
        "tools: tools.json\ncases:\n  - id: x\n    prompt: Land\n    expect: {tool: land}\n",
        ["broken.yaml:5", "case 'x'", "'land' is not one of the suite's tools", "land_drone"],
    ),
    "unknown-argument": (
        "tools: tools.json\ncases:\n  - id: x\n    prompt: Land\n"
        "    expect: {tool: land_drone, args: {height: 3}}\n",
        ["broken.yaml:5", "case 'x'", "height"],
    ),
    "enum-literal": (
        "tools: tools.json\ncases:\n  - id: x\n    prompt: Photo\n"
        "    expect: {tool: control_camera, args: {mode: photoo}}\n",
        ["broken.yaml:5", "case 'x'", "photoo"],
    ),
    "unknown-operator": (
        "tools: tools.json\ncases:\n  - id: x\n    prompt: Land\n"
        "    expect: {tool: land_drone, args: {location: {$regx: home}}}\n",
        ["broken.yaml:5", "case 'x'", "$regx"],
    ),
    "no-prompt": (
        "tools: tools.json\ncases:\n  - id: x\n    expect: {no_call: true}\n",
        ["broken.yaml:3", "case 'x'", "no 'prompt' or 'messages'"],
    ),
    "bad-expect-shape": (
        "tools: tools.json\ncases:\n  - id: x\n    prompt: p\n    expect: {toool: land_drone}\n",
        ["broken.yaml:5", "case 'x'", "expect"],
    ),
    "non-utf8": (
        b"tools: tools.json\ncases:\n  - id: x\n    prompt: caf\xe9\n    expect: {no_call: true}\n",
        ["broken.yaml:4", "not UTF-8"],
    ),
    "duplicate-yaml-key": (
        "tools: tools.json\ncases:\n  - id: x\n    prompt: a\n    prompt: b\n"
        "    expect: {no_call: true}\n",
        ["broken.yaml:5", "duplicate key 'prompt'"],
    ),
    "missing-system-file": (
        "system: prompts/sys.txt\ntools: tools.json\ncases:\n" + CASE,
        ["broken.yaml:1", "system prompt file not found"],
    ),
    "unused-tag-threshold": (
        "tools: tools.json\nthresholds: {rejects: 1.0}\ncases:\n" + CASE,
        ["broken.yaml:2", "tag 'rejects' is not used by any case"],
    ),
    "reserved-id": (
        "tools: tools.json\ncases:\n  - {id: gate, prompt: p, expect: {no_call: true}}\n",
        ["broken.yaml:3", "'gate' is reserved"],
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_file_is_one_clear_collection_error(pytester, fake_openai, drone_tools, name):
    text, fragments = BROKEN[name]
    (pytester.path / "bad_tools.json").write_text("[{not json")
    (pytester.path / "shape_tools.json").write_text('[{"type": "function"}]')
    target = pytester.path / "broken.yaml"
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text)
    pytester.makefile(".yaml", good=GOOD)
    server = fake_openai({"thanks": {"text": "you're welcome"}})
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-live",
        "--continue-on-collection-errors",
    )
    output = result.stdout.str()
    assert result.ret == 1
    message = [line for line in output.splitlines() if line.startswith("broken.yaml")]
    assert len(message) == 1, output  # one line, the file named as the user sees it
    position = 0
    for fragment in fragments:
        position = output.find(fragment, position)
        assert position >= 0, f"{fragment!r} not in output:\n{output}"
    assert "Traceback" not in output and "pytest_toolcall/" not in output, output
    result.assert_outcomes(passed=2, errors=1)  # good.yaml's case and gate still ran


def test_fifty_megabyte_file_is_refused_without_reading_it(pytester, drone_tools):
    target = pytester.path / "huge.yaml"
    with target.open("w") as stream:
        stream.write("tools: tools.json\ncases:\n")
        line = "  - {prompt: '" + "x" * 990 + "', expect: {no_call: true}}\n"
        stream.write(line * 50_000)
    result = runpytest(pytester, "--model=m")
    result.stdout.fnmatch_lines(["*huge.yaml: file is 5?.? MB; case files are limited to 20 MB*"])
    assert result.ret == 2 or result.ret == 1


MANY_PROBLEMS = """\
tools: tools.json
threshold: 1.5
cases:
  - id: typo
    prompt: Land
    expect: {tool: land_drone, arg: {location: home_base}}
  - id: enum
    prompt: Photo
    expect:
      tool: control_camera
      args: {mode: photoo}
  - id: two-in-one
    prompt: Land
    expect:
      tool: land_drone
      args:
        location: moon
        height: 3
  - id: fine
    prompt: thanks
    expect: {no_call: true}
  - id: unknown-tool
    prompt: Land
    expect: {tool: land}
  - id: bad-key
    promt: Land
    expect: {no_call: true}
"""


def test_every_problem_of_a_file_is_reported_at_once(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", broken=MANY_PROBLEMS)
    server = fake_openai({})
    result = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live"
    )
    output = result.stdout.str()
    assert result.ret != 0
    lines = [line for line in output.splitlines() if line.startswith("broken.yaml:")]
    assert lines == [
        "broken.yaml:2: threshold: 1.5 is greater than the maximum of 1",
        "broken.yaml:6: case 'typo': expect: unknown key 'arg' (did you mean 'args'?)",
        "broken.yaml:11: case 'enum': expect.args.mode: 'photoo' is not one of photo, video, "
        "panorama",
        "broken.yaml:17: case 'two-in-one': expect.args.location: 'moon' is not one of current, "
        "home_base, custom",
        "broken.yaml:18: case 'two-in-one': expect.args.height: land_drone has no argument "
        "'height' (it has: coordinates, location)",
        "broken.yaml:24: case 'unknown-tool': expect.tool 'land' is not one of the suite's "
        "tools: calibrate_sensors, configure_led_display, control_camera, control_drone_movement, "
        "control_gimbal, land_drone, reject_request, return_to_home, set_autopilot, "
        "set_battery_saver_mode, set_drone_lighting, set_drone_speed, set_follow_me_mode, "
        "set_home_location, set_obstacle_avoidance, takeoff_drone",
        "broken.yaml:26: case 'bad-key': unknown key 'promt' (did you mean 'prompt'?)",
    ], output
    assert server.requests == []


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        (
            "{tool: land_drone, arg: {location: home_base}}",
            "expect: unknown key 'arg' (did you mean 'args'?)",
        ),
        ("{tool: land_drone, excat: true}", "expect: unknown key 'excat' (did you mean 'exact'?)"),
        ("{toool: land_drone}", "expect: unknown key 'toool' (did you mean 'tool'?)"),
        ("{no_cal: true}", "expect: unknown key 'no_cal' (did you mean 'no_call'?)"),
        ("{anyof: [{tool: land_drone}]}", "expect: unknown key 'anyof' (did you mean 'any_of'?)"),
        (
            "{calls: [{tool: land_drone, arg: {}}]}",
            "expect.calls[0]: unknown key 'arg' (did you mean 'args'?)",
        ),
        (
            "{any_of: [{tool: land_drone}, {tool: land_drone, arg: {}}]}",
            "expect.any_of[1]: unknown key 'arg' (did you mean 'args'?)",
        ),
        (
            "{tool: land_drone, no_call: true}",
            "expect: give one of tool, calls, no_call, any_of or steps, not tool and no_call",
        ),
        ("{args: {location: home_base}}", "expect: 'tool' is a required property"),
        ("{no_call: false}", "expect.no_call: must be true"),
    ],
)
def test_a_misspelt_expect_key_is_named_with_a_suggestion(pytester, drone_tools, expect, message):
    pytester.makefile(
        ".yaml",
        broken=f"tools: tools.json\ncases:\n  - id: x\n    prompt: p\n    expect: {expect}\n",
    )
    result = runpytest(pytester, "--model=m", "--collect-only", "-q")
    output = result.stdout.str()
    assert result.ret != 0
    assert f"broken.yaml:5: case 'x': {message}" in output, output
