"""`pytest-toolcall export`: fine-tuning JSONL lines, resolution, stripping, splitting."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_toolcall.datagen.cli import main
from pytest_toolcall.datagen.export import line_problems, strip_descriptions

DRONE_TOOLS = Path(__file__).parent / "data" / "drone_tools.json"

HEADER = """\
suite: s
system: You control a drone.
tools: tools.json
tool_choice: required
cases:
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "tools.json").write_text(DRONE_TOOLS.read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def suite_file(directory: Path, cases: str, name: str = "s.yaml", header: str = HEADER) -> Path:
    path = directory / name
    path.write_text(header + textwrap.indent(textwrap.dedent(cases), "  "))
    return path


def export(*args: str) -> int:
    return main(["export", *args])


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_line_per_case_in_the_chat_fine_tuning_format(workdir, capsys):
    suite_file(
        workdir,
        """\
        - id: land
          prompt: Land at home
          expect: {tool: land_drone, args: {location: home_base}}
        - id: lights
          prompt: Lights on
          expect: {tool: set_drone_lighting, args: {mode: on}}
        """,
    )
    assert export("s.yaml", "--out", "train.jsonl") == 0
    lines = read_lines(workdir / "train.jsonl")
    assert len(lines) == 2
    first = lines[0]
    assert set(first) == {"messages", "tools", "parallel_tool_calls"}
    assert first["parallel_tool_calls"] is False
    assert first["messages"] == [
        {"role": "system", "content": "You control a drone."},
        {"role": "user", "content": "Land at home"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "land_drone", "arguments": '{"location": "home_base"}'},
                }
            ],
        },
    ]
    assert first["tools"] == json.loads(DRONE_TOOLS.read_text())
    assert json.loads(lines[1]["messages"][-1]["tool_calls"][0]["function"]["arguments"]) == {
        "mode": "on"
    }
    assert capsys.readouterr().out == "wrote 2 lines to train.jsonl\n"


def test_several_calls_and_earlier_turns(workdir):
    suite_file(
        workdir,
        """\
        - id: climb-photo
          messages:
            - {role: user, content: Take off}
            - role: assistant
              tool_calls:
                - id: c1
                  type: function
                  function: {name: takeoff_drone, arguments: '{"altitude": 10}'}
            - {role: tool, tool_call_id: c1, content: ok}
            - {role: user, content: Now 30 m and a photo}
          expect:
            calls:
              - {tool: takeoff_drone, args: {altitude: 30}}
              - {tool: control_camera, args: {mode: photo}}
        """,
    )
    assert export("s.yaml", "--out", "train.jsonl") == 0
    (line,) = read_lines(workdir / "train.jsonl")
    assert "parallel_tool_calls" not in line
    roles = [message["role"] for message in line["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "user", "assistant"]
    earlier = line["messages"][2]["tool_calls"][0]["function"]["arguments"]
    assert earlier == '{"altitude": 10}'  # the API's JSON string, as the case file has it
    calls = line["messages"][-1]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [
        ("call_0", "takeoff_drone"),
        ("call_1", "control_camera"),
    ]


@pytest.mark.parametrize(
    ("spec", "concrete"),
    [
        ("{location: {$one_of: [home_base, current]}}", {"location": "home_base"}),
        ("{location: {$one_of: [{$absent: true}, current]}}", {"location": "current"}),
        ("{location: {$icase: Home_Base}}", {"location": "home_base"}),
        (
            "{location: custom, coordinates: {lat: {$approx: 3.5, $tol: 0.1}}}",
            {"location": "custom", "coordinates": {"lat": 3.5}},
        ),
        ("{location: current, coordinates: {$absent: true}}", {"location": "current"}),
    ],
)
def test_operators_resolve_to_one_valid_value(workdir, spec, concrete):
    suite_file(workdir, f"- {{id: c, prompt: p, expect: {{tool: land_drone, args: {spec}}}}}\n")
    assert export("s.yaml", "--out", "train.jsonl") == 0
    (line,) = read_lines(workdir / "train.jsonl")
    arguments = line["messages"][-1]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == concrete


def test_between_resolves_to_an_integer_lower_bound(workdir):
    suite_file(
        workdir,
        "- {id: c, prompt: p, expect: {tool: set_drone_speed, "
        "args: {speed: {$between: [2.5, 9]}}}}\n",
    )
    assert export("s.yaml", "--out", "train.jsonl") == 0
    (line,) = read_lines(workdir / "train.jsonl")
    assert line["messages"][-1]["tool_calls"][0]["function"]["arguments"] == '{"speed": 3}'


def test_cases_without_one_concrete_answer_are_skipped_and_counted(workdir, capsys):
    suite_file(
        workdir,
        """\
        - id: ok
          prompt: land
          expect: {tool: land_drone, args: {location: current}}
        - id: regex
          prompt: r1
          expect: {tool: land_drone, args: {location: {$regex: "home.*"}}}
        - id: regex2
          prompt: r2
          expect: {tool: land_drone, args: {location: {$regex: "cur.*"}}}
        - id: any
          prompt: a
          expect: {tool: land_drone, args: {location: {$any: true}}}
        - id: chat
          prompt: thanks
          tool_choice: auto
          expect: {no_call: true}
        - id: incomplete
          prompt: move
          expect: {tool: control_drone_movement, args: {direction: up}}
        - id: either
          prompt: night vision
          expect:
            any_of:
              - {no_call: true}
              - {tool: set_drone_lighting, args: {mode: {$regex: "o.*"}}}
              - {tool: set_drone_lighting, args: {mode: {$one_of: [blink, sos]}}}
        """,
    )
    assert export("s.yaml", "--out", "train.jsonl") == 0
    out = capsys.readouterr().out
    assert "wrote 2 lines to train.jsonl" in out
    assert (
        "5 cases skipped (no single concrete answer): 1 $any, 2 $regex, "
        "1 no valid call (invalid_args), 1 no_call"
    ) in out
    lines = read_lines(workdir / "train.jsonl")
    assert [line["messages"][1]["content"] for line in lines] == ["land", "night vision"]
    assert lines[1]["messages"][-1]["tool_calls"][0]["function"]["arguments"] == (
        '{"mode": "blink"}'
    )


def test_strip_descriptions_at_every_depth_but_not_a_property_named_description(workdir):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "post",
                "description": "Post a note.",
                "parameters": {
                    "type": "object",
                    "description": "the arguments",
                    "properties": {
                        "description": {"type": "string", "description": "the note's text"},
                        "meta": {
                            "type": "object",
                            "properties": {
                                "tags": {
                                    "type": "array",
                                    "items": {"type": "string", "description": "one tag"},
                                },
                                "kind": {"anyOf": [{"const": "a", "description": "A"}]},
                            },
                        },
                        "level": {"enum": ["description", "x"], "description": "how loud"},
                    },
                    "$defs": {"description": {"type": "string", "description": "defined"}},
                    "required": ["description"],
                },
            },
        }
    ]
    (workdir / "notes.json").write_text(json.dumps(tools))
    header = HEADER.replace("tools.json", "notes.json")
    suite_file(
        workdir,
        "- {id: c, prompt: p, expect: {tool: post, args: {description: hi, level: x}}}\n",
        header=header,
    )
    assert export("s.yaml", "--out", "plain.jsonl") == 0
    assert export("s.yaml", "--out", "stripped.jsonl", "--strip-descriptions") == 0
    (plain,) = read_lines(workdir / "plain.jsonl")
    (stripped,) = read_lines(workdir / "stripped.jsonl")
    assert plain["tools"] == tools
    function = stripped["tools"][0]["function"]
    assert "description" not in function
    parameters = function["parameters"]
    assert "description" not in parameters
    assert parameters["properties"]["description"] == {"type": "string"}
    assert parameters["properties"]["meta"]["properties"]["tags"]["items"] == {"type": "string"}
    assert parameters["properties"]["meta"]["properties"]["kind"] == {"anyOf": [{"const": "a"}]}
    assert parameters["properties"]["level"] == {"enum": ["description", "x"]}
    assert parameters["$defs"] == {"description": {"type": "string"}}
    assert parameters["required"] == ["description"]
    assert "description" not in json.dumps(strip_descriptions(tools)).replace(
        '"description": {"type"', ""
    ).replace('["description"', "").replace('"description", "x"', "")
    assert tools[0]["function"]["description"] == "Post a note."  # the input is not changed


def test_val_split_is_deterministic_and_disjoint(workdir, capsys):
    cases = "".join(
        f"- {{id: c{i}, prompt: 'move {i}', expect: {{tool: control_drone_movement, "
        f"args: {{direction: up, distance: {i}}}}}}}\n"
        for i in range(20)
    )
    suite_file(workdir, cases)
    assert export("s.yaml", "--out", "a/train.jsonl", "--val-split", "0.2", "--seed", "3") == 0
    assert "wrote 16 lines to a/train.jsonl and 4 to a/train.val.jsonl" in capsys.readouterr().out
    assert export("s.yaml", "--out", "b/train.jsonl", "--val-split", "0.2", "--seed", "3") == 0
    assert (
        export(
            "s.yaml",
            "--out",
            "c/t.jsonl",
            "--val-split",
            "0.2",
            "--seed",
            "4",
            "--val-out",
            "c/v.jsonl",
        )
        == 0
    )
    train, val = (
        (workdir / "a/train.jsonl").read_text(),
        (workdir / "a/train.val.jsonl").read_text(),
    )
    assert train == (workdir / "b/train.jsonl").read_text()
    assert val == (workdir / "b/train.val.jsonl").read_text()
    prompts = {line["messages"][1]["content"] for line in read_lines(workdir / "a/train.jsonl")}
    held = {line["messages"][1]["content"] for line in read_lines(workdir / "a/train.val.jsonl")}
    assert len(prompts) == 16 and len(held) == 4 and not prompts & held
    assert held != {line["messages"][1]["content"] for line in read_lines(workdir / "c/v.jsonl")}


def test_several_files_and_a_directory(workdir, capsys):
    (workdir / "sub").mkdir()
    (workdir / "sub" / "tools.json").write_text(DRONE_TOOLS.read_text())
    suite_file(workdir, "- {id: a, prompt: a, expect: {tool: return_to_home}}\n")
    suite_file(workdir / "sub", "- {id: b, prompt: b, expect: {tool: calibrate_sensors}}\n")
    (workdir / "sub" / "other.yaml").write_text("not: a case file\n")
    assert export("s.yaml", "sub", "s.yaml", "--out", "t.jsonl") == 0
    lines = read_lines(workdir / "t.jsonl")
    assert [line["messages"][1]["content"] for line in lines] == ["a", "b"]


def test_each_line_is_checked_before_it_is_written():
    line = {
        "messages": [
            {"role": "user", "content": "land"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": "land_drone", "arguments": '{"location": "moon"}'},
                    }
                ],
            },
        ],
        "tools": json.loads(DRONE_TOOLS.read_text()),
    }
    assert line_problems(line) and "invalid_args" in line_problems(line)[0]
    line["messages"][1]["tool_calls"][0]["function"]["arguments"] = '{"location": "current"}'
    assert line_problems(line) == []
    line["messages"].insert(0, {"role": "developer", "content": "x"})
    assert "role 'developer'" in line_problems(line)[0]


def test_a_line_that_fails_the_check_is_left_out_and_reported(workdir, capsys):
    suite_file(
        workdir,
        """\
        - id: fine
          prompt: home
          expect: {tool: return_to_home}
        - id: odd-role
          messages:
            - {role: developer, content: be brief}
            - {role: user, content: home}
          expect: {tool: return_to_home}
        """,
    )
    assert export("s.yaml", "--out", "t.jsonl") == 1
    captured = capsys.readouterr()
    assert "wrote 1 line to t.jsonl" in captured.out
    assert "1 case failed the line check" in captured.err
    assert "s.yaml::odd-role: messages[1]: role 'developer'" in captured.err
    assert len(read_lines(workdir / "t.jsonl")) == 1


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("pytest-toolcall: error: ")
    return line


def test_errors_are_one_line_and_exit_2(workdir, capsys):
    assert export("missing.yaml", "--out", "t.jsonl") == 2
    assert "no such case file: missing.yaml" in one_line_error(capsys)
    (workdir / "bad.yaml").write_text("cases:\n  - {id: x, prompt: p, expect: {tool: nope}}\n")
    assert export("bad.yaml", "--out", "t.jsonl") == 2
    assert "bad.yaml" in one_line_error(capsys)
    suite_file(workdir, "- {id: c, prompt: p, expect: {no_call: true}}\n")
    assert export("s.yaml", "--out", "t.jsonl") == 2
    assert "nothing to export: 1 no_call" in one_line_error(capsys)
    assert not (workdir / "t.jsonl").exists()
    with pytest.raises(SystemExit) as exited:
        export("s.yaml", "--out", "t.jsonl", "--val-split", "1.5")
    assert exited.value.code == 2
    assert "--val-split: must be at least 0 and below 1" in one_line_error(capsys)


def test_written_files_get_the_umask_mode_and_keep_a_replaced_files_mode(workdir):
    """Not mkstemp's private 0600: a new file as `open()` makes it, a replaced one as it was."""
    suite_file(
        workdir,
        "- {id: land, prompt: Land, expect: {tool: land_drone, args: {location: current}}}\n",
    )
    old_umask = os.umask(0o022)
    try:
        assert export("s.yaml", "--out", "train.jsonl", "--val-split", "0.5") == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((workdir / "train.jsonl").stat().st_mode) == 0o644
    os.chmod(workdir / "train.jsonl", 0o640)
    assert export("s.yaml", "--out", "train.jsonl") == 0
    assert stat.S_IMODE((workdir / "train.jsonl").stat().st_mode) == 0o640
    names = sorted(p.name for p in workdir.iterdir())
    assert names == ["s.yaml", "tools.json", "train.jsonl", "train.val.jsonl"]  # no temp files


def test_out_may_not_be_a_case_file_read_nor_the_validation_file(workdir, capsys):
    original = suite_file(workdir, "- {id: a, prompt: a, expect: {tool: return_to_home}}\n")
    before = original.read_text()
    assert export("s.yaml", "--out", "s.yaml") == 2
    assert "--out s.yaml is one of the case files read" in one_line_error(capsys)
    assert original.read_text() == before  # not overwritten with JSONL
    assert export("s.yaml", "--out", "t.jsonl", "--val-split", "0.5", "--val-out", "t.jsonl") == 2
    assert "--val-out t.jsonl is the same file as --out" in one_line_error(capsys)
    assert not (workdir / "t.jsonl").exists()


def test_a_repeated_example_is_written_once_so_it_cannot_sit_in_train_and_val(workdir, capsys):
    cases = "".join(
        f"- {{id: c{n}, prompt: 'go home {n % 5}', expect: {{tool: return_to_home}}}}\n"
        for n in range(10)
    )
    suite_file(workdir, cases)
    suite_file(
        workdir, "- {id: again, prompt: go home 1, expect: {tool: return_to_home}}\n", "t.yaml"
    )
    assert export("s.yaml", "t.yaml", "--out", "x.jsonl", "--val-split", "0.4") == 0
    captured = capsys.readouterr()
    assert "wrote 3 lines to x.jsonl and 2 to x.val.jsonl" in captured.out
    assert "6 repeated examples left out" in captured.err
    assert "t.yaml::again: same example as s.yaml::c1" in captured.err
    train = {line["messages"][1]["content"] for line in read_lines(workdir / "x.jsonl")}
    val = {line["messages"][1]["content"] for line in read_lines(workdir / "x.val.jsonl")}
    assert len(train | val) == 5 and not train & val


def test_one_prompt_with_two_answers_is_reported(workdir, capsys):
    suite_file(
        workdir,
        """\
        - {id: a, prompt: lights, expect: {tool: set_drone_lighting, args: {mode: on}}}
        - {id: b, prompt: lights, expect: {tool: set_drone_lighting, args: {mode: off}}}
        """,
    )
    assert export("s.yaml", "--out", "x.jsonl") == 1
    err = capsys.readouterr().err
    assert "s.yaml::b: the same messages as s.yaml::a with another answer" in err
    assert len(read_lines(workdir / "x.jsonl")) == 1


def test_a_stale_validation_file_is_pointed_out(workdir, capsys):
    suite_file(
        workdir,
        "- {id: a, prompt: a, expect: {tool: return_to_home}}\n"
        "- {id: b, prompt: b, expect: {tool: calibrate_sensors}}\n",
    )
    assert export("s.yaml", "--out", "x.jsonl", "--val-split", "0.5") == 0
    capsys.readouterr()
    assert export("s.yaml", "--out", "x.jsonl") == 0
    err = capsys.readouterr().err
    assert "x.val.jsonl is from an earlier export and overlaps x.jsonl" in err
