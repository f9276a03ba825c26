"""A case file is built first without the lines of its nested mappings, and again with
every line when it has a problem: the first build must give what the second would.

Speed is measured in benchmarks/, never here: these tests pin the result and which
build answers.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_toolcall.collect import casefile
from pytest_toolcall.collect.casefile import Suite, load_suite
from pytest_toolcall.collect.errors import CaseFileError
from pytest_toolcall.collect.yaml12 import LineDict, LinesNeeded, load_yaml

ROOT = Path(__file__).resolve().parent.parent
TOOL = """{type: function, function: {name: move, description: Move., parameters: {
    type: object, required: [direction], properties: {
      direction: {type: string, enum: [left, right]},
      distance: {type: integer, minimum: 0},
      steps: {type: array, items: {type: object}}}}}}"""
DOCUMENT = yaml.safe_load(f"""
suite: s
tools: [{TOOL}]
params: {{seed: 1}}
tool_choice: {{name: move}}
cases:
  - {{id: c1, prompt: Move left 3, expect: {{tool: move, args: {{direction: left, distance: 3}}}}}}
  - id: c2
    prompt: p
    tools: [{TOOL}]
    tool_choice: auto
    expect: {{tool: move, args: {{distance: {{$between: [1, 9]}}}}}}
    tags: [t]
  - {{id: c3, messages: [{{role: user, content: hi}}], expect: {{no_call: true}}}}
  - prompt: Go right
    expect: {{any_of: [{{tool: move}}, {{calls: [{{tool: move}}]}}]}}
thresholds: {{t: 0.5}}
""")
ODD = [None, True, 0, 1.0, "x", "move", "left", [], [1], {}, {"type": "integer"}]


def _mutated(rng: random.Random, node: Any) -> Any:
    """`node` with a few random changes: values replaced, keys added or dropped (fresh
    objects each time: `safe_dump` would write a value met twice as an anchor)."""
    if isinstance(node, dict):
        out = {key: _mutated(rng, value) for key, value in node.items()}
        roll = rng.random()
        if roll < 0.015 and out:
            del out[rng.choice(list(out))]
        elif roll < 0.03:
            key = rng.choice(["type", "x", "args", "minimum", "required", "id"])
            out[key] = copy.deepcopy(rng.choice(ODD))
        return out
    if isinstance(node, list):
        return [_mutated(rng, item) for item in node]
    return copy.deepcopy(rng.choice(ODD)) if rng.random() < 0.015 else node


def _both_builds(path: Path, rootdir: Path) -> tuple[Any, ...]:
    """The first build's outcome (a Suite, a CaseFileError, or LinesNeeded for anchors),
    then the build's with every line."""
    outcomes: list[Any] = []
    for every_line in (False, True):
        try:
            outcomes.append(casefile._built(path, rootdir, every_line=every_line, relist_mcp=False))
        except (CaseFileError, LinesNeeded) as exc:
            outcomes.append(exc)
    return tuple(outcomes)


def test_the_first_build_gives_what_the_build_with_every_line_gives(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "suite.yaml"
    outcomes = {"suite": 0, "error": 0}
    for round_ in range(300):
        document = _mutated(rng, DOCUMENT) if round_ else DOCUMENT
        path.write_text(yaml.safe_dump(document, default_flow_style=round_ % 3 == 0))
        lean, full = _both_builds(path, tmp_path)
        if isinstance(full, Suite):
            assert lean == full, document  # the same cases, tools, lines and values
            outcomes["suite"] += 1
        else:
            assert isinstance(lean, CaseFileError), document  # never accepts a broken file
            with pytest.raises(CaseFileError) as error:
                load_suite(path, tmp_path)
            assert str(error.value) == str(full)  # worded by the build with every line
            outcomes["error"] += 1
    assert outcomes["suite"] > 30 and outcomes["error"] > 30, outcomes


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "cases" / "drone").glob("*.yaml")))
def test_the_example_suites_build_alike_both_ways(name: str) -> None:
    lean, full = _both_builds(ROOT / "cases" / "drone" / name, ROOT)
    assert isinstance(full, Suite) and lean == full
    assert [case.line for case in lean.cases] == [case.line for case in full.cases]


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The `every_line` of each build `load_suite` makes."""
    made: list[bool] = []
    build = casefile._built

    def recorded(*args: Any, every_line: bool, **named: Any) -> Suite:
        made.append(every_line)
        return build(*args, every_line=every_line, **named)

    monkeypatch.setattr(casefile, "_built", recorded)
    return made


CLEAN = """tools:
  - type: function
    function:
      name: move
      parameters:
        type: object
        properties:
          distance: {type: integer}
cases:
  - id: c1
    prompt: Move 3
    expect: {tool: move, args: {distance: 3}}
"""


def test_a_clean_file_is_built_once_without_every_line(tmp_path: Path, builds) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(CLEAN)
    suite = load_suite(path, tmp_path)
    assert builds == [False]
    assert suite.cases[0].line == 10 and type(suite.cases[0].expect) is dict


def test_a_recording_run_builds_once_with_every_line(tmp_path: Path, builds) -> None:
    """A run that lists MCP servers again must not ask them twice: no first build."""
    path = tmp_path / "suite.yaml"
    path.write_text(CLEAN)
    assert load_suite(path, tmp_path, relist_mcp=True).cases[0].line == 10
    assert builds == [True]


def test_a_problem_deep_in_a_case_is_built_again_and_named_on_its_line(
    tmp_path: Path, builds
) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(
        CLEAN + "  - id: c2\n    prompt: Move 4\n    expect:\n      tool: move\n"
        "      args:\n        distance: 4\n        speed: 2\n"
    )
    with pytest.raises(CaseFileError) as error:
        load_suite(path, tmp_path)
    assert builds == [False, True]
    assert "speed" in str(error.value) and error.value.line == 19  # the line of `speed:`


def test_a_file_with_anchors_is_built_with_every_line(tmp_path: Path, builds) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(
        CLEAN + "  - id: c2\n    prompt: Move again\n    expect: &same {tool: move}\n"
        "  - id: c3\n    prompt: Move once more\n    expect: *same\n"
    )
    suite = load_suite(path, tmp_path)
    assert builds == [False, True]
    assert [case.expect for case in suite.cases[1:]] == [{"tool": "move"}] * 2
    assert all(type(case.expect) is dict for case in suite.cases)  # no LineDict kept
    with pytest.raises(LinesNeeded):
        load_yaml(path.read_text(), lines=False)


def test_without_lines_only_the_top_and_the_cases_keep_theirs() -> None:
    document = load_yaml(CLEAN, lines=False)
    assert isinstance(document, LineDict) and document.key_lines["cases"] == 9
    case = document["cases"][0]
    assert isinstance(case, LineDict) and (case.line, case.key_lines["expect"]) == (10, 12)
    assert type(case["expect"]) is dict and type(document["tools"][0]) is dict
    assert load_yaml(CLEAN, lines=False) == load_yaml(CLEAN)
