"""Collection's fast paths give jsonschema's and PyYAML's answers, and caches never go stale.

Speed itself is measured in benchmarks/, never here: these tests only pin behaviour.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pytest_toolcall.collect import tools as tools_module
from pytest_toolcall.collect.casefile import load_suite
from pytest_toolcall.collect.errors import CaseFileError
from pytest_toolcall.collect.expectations import _operand_error
from pytest_toolcall.collect.metaschema import (
    RULES,
    UNCHECKED_KEYWORDS,
    _is_schema,
    parameters_error,
)
from pytest_toolcall.collect.structure import _validator
from pytest_toolcall.collect.tools import _tools_file_problem, _tools_list_schema
from pytest_toolcall.collect.yaml12 import (
    LineDict,
    LinesNeeded,
    Yaml12Loader,
    YamlError,
    load_yaml,
)
from pytest_toolcall.judge.fastvalid import Unsupported, compile_check
from pytest_toolcall.judge.schemas import tool_checker
from pytest_toolcall.judge.values import OPERATORS

TOOL = {
    "type": "function",
    "function": {
        "name": "move",
        "parameters": {
            "type": "object",
            "properties": {
                "direction": {"type": "string", "enum": ["left", "right"]},
                "distance": {"type": "integer", "minimum": 0},
            },
            "required": ["direction"],
        },
    },
}
CASE = {"id": "c1", "prompt": "Move left 3", "expect": {"tool": "move", "args": {"distance": 3}}}
ODD_VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 1.0, 2.5, float("nan"), "", "x", "function", "gate",
    "required", "a b", [], [1], ["x"], {}, {"a": 1}, {"mcp": []}, {"mcp": {"url": "u"}},
]  # fmt: skip


def _mutations(rng: random.Random, node: Any, depth: int = 0) -> Any:
    """`node` with a few random changes: values replaced, keys added, dropped or renamed."""
    if isinstance(node, dict):
        out = {key: _mutations(rng, value, depth + 1) for key, value in node.items()}
        roll = rng.random()
        if roll < 0.1 and out:
            del out[rng.choice(list(out))]
        elif roll < 0.2:
            out[rng.choice(["prompt", "tools", "name", "type", "x", "parameters", "no_call"])] = (
                rng.choice(ODD_VALUES)
            )
        return out
    if isinstance(node, list):
        out = [_mutations(rng, item, depth + 1) for item in node]
        if rng.random() < 0.1:
            out.append(rng.choice(ODD_VALUES))
        return out
    return rng.choice(ODD_VALUES) if rng.random() < 0.15 else node


def test_fast_structure_check_agrees_with_jsonschema_on_mutated_files() -> None:
    validator = _validator()
    fine = compile_check(validator.schema)
    document = {
        "suite": "s",
        "tools": [TOOL],
        "params": {"seed": 1},
        "threshold": 0.5,
        "cases": [
            CASE,
            {**CASE, "id": "c2", "tools": [copy.deepcopy(TOOL)], "tool_choice": "auto"},
            {"id": "c3", "messages": [{"role": "user", "content": "hi"}],
             "expect": {"no_call": True}},
            {"prompt": "p",
             "expect": {"any_of": [{"tool": "move"}, {"calls": [{"tool": "move"}]}]}},
        ],
    }  # fmt: skip
    assert fine(document) and not list(validator.iter_errors(document))
    rng = random.Random(15)
    verdicts = set()
    for _ in range(1500):
        mutated = _mutations(rng, document)
        valid = not any(True for _ in validator.iter_errors(mutated))
        assert fine(mutated) == valid, mutated
        verdicts.add(valid)
    assert verdicts == {True, False}


def test_fast_structure_check_refuses_what_it_cannot_check_exactly() -> None:
    for schema in ({"$ref": "#/x"}, {"enum": [1, "a"]}, {"const": 1}, {"format2": 1}):
        with pytest.raises(Unsupported):
            compile_check(schema)
    assert compile_check({"not": {"minimum": 1}})(float("nan")) is False  # nan < 1 is False


PARAMETERS = {  # BFCL-sized: nested objects, arrays, enums, bounds, integers
    "type": "object",
    "properties": {
        "target": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "position": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "alt": {"type": "integer"}},
                    "required": ["lat"],
                    "additionalProperties": False,
                },
            },
            "required": ["name"],
        },
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 2},
        "note": {"type": "string", "maxLength": 2},
        "count": {"type": ["integer", "null"], "minimum": 1, "exclusiveMaximum": 30},
        "mode": {"anyOf": [{"const": "fast"}, {"type": "boolean"}]},
    },
    "required": ["target"],
}
ARGUMENTS = {
    "target": {"name": "n", "position": {"lat": 1.5, "alt": 3}},
    "tags": ["a", "b"],
    "note": "ab",
    "count": 29,
    "mode": "fast",
}


def test_fast_argument_check_agrees_with_bfcls_strict_validator() -> None:
    checker = tool_checker(PARAMETERS)
    assert checker.check is not None
    assert checker.accepts(ARGUMENTS) and not checker.accepts({**ARGUMENTS, "count": 3.0})
    rng = random.Random(16)
    verdicts = set()
    for _ in range(2000):
        mutated = _mutations(rng, ARGUMENTS)
        valid = checker.validator.is_valid(mutated)
        assert checker.check(mutated) == valid, mutated
        verdicts.add(valid)
    assert verdicts == {True, False}


def test_a_schema_the_fast_check_cannot_judge_exactly_goes_to_jsonschema() -> None:
    for parameters in (
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}, "$defs": {"a": {}}},
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}},
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
    ):
        assert tool_checker(parameters).check is None, parameters


def test_fast_type_and_operand_checks_agree_with_jsonschema() -> None:
    """What collection answers without jsonschema is what jsonschema would answer."""
    values = [0, 1, 1.0, 2.5, -1, True, False, None, "", "x", "(", "^a$", [], [1], {}, {"a": 1}]
    checker = tool_checker(PARAMETERS)
    draft_07 = tool_checker({"$schema": "http://json-schema.org/draft-07/schema#"})
    kinds = ["array", "boolean", "integer", "null", "number", "object", "string"]
    for value in values:
        for kind in kinds:
            assert checker.is_type(value, kind) == checker.validator.is_type(value, kind)
            assert draft_07.is_type(value, kind) == draft_07.validator.is_type(value, kind)
    assert not checker.is_type(3.0, "integer")  # BFCL: 3.0 is not an integer
    for key, operator in OPERATORS.items():
        validator = jsonschema.Draft202012Validator(
            operator.operand, format_checker=jsonschema.FormatChecker()
        )
        for value in [*values, [0, 1], [1, 0], [1, "a"], [0.5, 2]]:
            error = _operand_error(key, value)
            assert (error is None) == validator.is_valid(value), (key, value)
    tools_schema = jsonschema.Draft202012Validator(_tools_list_schema())
    rng = random.Random(17)
    for _ in range(500):
        mutated = _mutations(rng, [TOOL, copy.deepcopy(TOOL)])
        assert (_tools_file_problem(mutated) is None) == tools_schema.is_valid(mutated), mutated


def test_collecting_files_without_errors_does_not_import_jsonschema(
    pytester: pytest.Pytester, drone_tools: Path
) -> None:
    pytester.makefile(
        ".yaml",
        suite="""
            suite: s
            tools: tools.json
            cases:
              - prompt: "Up 5 m"
                expect: {tool: control_drone_movement,
                         args: {direction: up, distance: {$between: [1, 9]}}}
              - prompt: "Land"
                expect: {tool: land_drone, args: {location: {$one_of: [current, home_base]}}}
            """,
        broken="""
            suite: b
            tools: tools.json
            cases:
              - prompt: "Up"
                expect: {tool: control_drone_movement, args: {distance: "far"}}
            """,
    )
    pytester.makeconftest(
        """
        import sys

        def pytest_collection_finish(session):
            with open("loaded.txt", "a") as out:
                out.write(str("jsonschema" in sys.modules))
        """
    )
    options = ["--collect-only", "--model=m", "-p", "no:recording", "-p", "no:anyio"]
    pytester.runpytest_subprocess("suite.yaml", *options).assert_outcomes()
    assert (pytester.path / "loaded.txt").read_text() == "False"
    broken = pytester.runpytest_subprocess("broken.yaml", *options)
    broken.stdout.fnmatch_lines(["*args.distance*'far' is not of type 'integer'*"])
    assert (pytester.path / "loaded.txt").read_text() == "FalseTrue"


def _random_schema(rng: random.Random, depth: int = 0) -> Any:
    keys = ["type", "properties", "items", "enum", "required", "minimum", "pattern", "anyOf"]
    keys += ["$ref", "$id", "minLength", "additionalProperties", "x-extra", "dependencies"]
    values: list[Any] = [
        "string", "dict", ["string", "null"], ["a", "a"], [], -1, 0, 2.0, True, None, "a(",
        "^a$", "#/$defs/a", {"type": "integer"}, {"a": {"type": "x"}}, {"a": {"type": "number"}},
    ]  # fmt: skip
    if depth < 3:
        values += [_random_schema(rng, depth + 1), [_random_schema(rng, depth + 1)]]
    if rng.random() < 0.05:
        return rng.choice([True, False, 1, "x"])
    return {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(0, 4))}


def test_parameters_check_never_accepts_what_jsonschema_refuses() -> None:
    rng = random.Random(14)
    for _ in range(600):
        schema = _random_schema(rng)
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
            valid = True
        except jsonschema.SchemaError:
            valid = False
        assert valid or not _is_schema(schema, 0), schema


def test_parameters_check_gives_jsonschemas_own_error() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "dict"}}}
    ours = parameters_error(schema)
    with pytest.raises(jsonschema.SchemaError) as theirs:
        jsonschema.Draft202012Validator.check_schema(schema)
    assert ours is not None
    assert (ours.message, list(ours.absolute_path)) == (
        theirs.value.message,
        list(theirs.value.absolute_path),
    )
    assert parameters_error({"type": "object", "properties": {"a": {"type": "integer"}}}) is None


def test_the_walk_knows_every_keyword_the_meta_schema_constrains() -> None:
    """A keyword the meta-schema constrains but the walk has no rule for must send the
    schema to jsonschema: the walk's lists must cover jsonschema's own meta-schema copy."""
    from jsonschema_specifications import REGISTRY

    named: set[str] = set()
    for uri in REGISTRY:
        if uri.startswith("https://json-schema.org/draft/2020-12/"):
            named.update(REGISTRY.contents(uri).get("properties", {}))
    assert named - RULES.keys() == UNCHECKED_KEYWORDS
    assert not _is_schema({"$id": "x"}, 0)  # checked by jsonschema, never vouched for here


class _GenericLoader(Yaml12Loader):
    """PyYAML's own construction and resolution, for comparison."""

    resolve = yaml.resolver.BaseResolver.resolve

    def construct_document(self, node: yaml.Node) -> Any:
        return yaml.constructor.BaseConstructor.construct_document(self, node)


def _same(one: Any, two: Any) -> None:
    assert type(one) is type(two)
    if isinstance(one, LineDict):
        assert (one.line, one.key_lines, one.flow) == (two.line, two.key_lines, two.flow)
        assert list(one) == list(two)
        for key in one:
            _same(one[key], two[key])
    elif isinstance(one, list):
        assert len(one) == len(two)
        for a, b in zip(one, two, strict=True):
            _same(a, b)
    else:
        assert one == two or (one != one and two != two)  # nan


YAML_DOCUMENTS = [
    "a: 1\nb: [1, 2.5, .nan, ~, true, 0x1F, 0o7, 1e3, on, 12:30]\nc: {d: e, 'f': \"g\"}\n",
    "base: &b {x: 1, y: [1, 2]}\nmerged:\n  <<: *b\n  z: 3\nagain: *b\n",
    "list:\n  - &item {k: v}\n  - *item\n",
    "bin: !!binary aGVsbG8=\nset: !!set {a, b}\nstr: !!str 12\nfloat: !!float 3\n",
    "- - - deep\n    - [x, {y: z}]\n",
    "",
    "plain\n",
]


@pytest.mark.parametrize("text", YAML_DOCUMENTS)
def test_direct_yaml_build_matches_pyyaml(text: str) -> None:
    _same(load_yaml(text), yaml.load(text, Loader=_GenericLoader))  # noqa: S506


@pytest.mark.parametrize("text", YAML_DOCUMENTS)
def test_yaml_built_without_every_line_is_equal_or_refused(text: str) -> None:
    if "*" in text:  # an alias: only the build with every line takes it
        with pytest.raises(LinesNeeded):
            load_yaml(text, lines=False)
    else:
        assert load_yaml(text, lines=False) == load_yaml(text)


@pytest.mark.parametrize(
    "text, line",
    [("a: 1\nb: 2\na: 3\n", 3), ("x:\n  - {k: 1, k: 2}\n", 2), ("y: &a {z: 1}\nw: *a\ny: 2\n", 3)],
)
def test_duplicate_keys_named_on_their_line(text: str, line: int) -> None:
    with pytest.raises(YamlError) as error:
        load_yaml(text)
    assert error.value.line == line and "duplicate key" in error.value.problem
    with pytest.raises((YamlError, LinesNeeded)) as error:
        load_yaml(text, lines=False)  # (an alias before the duplicate stops it first)
    if isinstance(error.value, YamlError):
        assert error.value.line == line and "duplicate key" in error.value.problem


def test_equal_inline_tool_lists_share_one_check_and_one_tuple(tmp_path: Path) -> None:
    tools_text = (
        "    tools: [{type: function, function: {name: move, parameters: {type: object, "
        "properties: {distance: {type: integer, maximum: VALUE}}}}}]\n"
    )
    cases = "".join(
        f"  - id: c{i}\n    prompt: Move {i}\n    expect: {{tool: move}}\n"
        + tools_text.replace("VALUE", value)
        for i, value in enumerate(["10", "10", "10.0", "true"])
    )
    path = tmp_path / "suite.yaml"
    path.write_text("cases:\n" + cases, encoding="utf-8")
    with pytest.raises(CaseFileError) as error:  # `maximum: true` is not a valid schema
        load_suite(path, tmp_path)
    assert [(p.case, p.line) for p in error.value.problems] == [("c3", 17)]  # its tools line
    path.write_text("cases:\n" + cases.replace("true", "20"), encoding="utf-8")
    first, second, third, fourth = load_suite(path, tmp_path).cases
    assert first.tools is second.tools  # same content: one tuple, checked once
    assert first.tools is not third.tools and third.tools is not fourth.tools  # 10 vs 10.0 vs 20
    limits = [
        c.tools[0]["function"]["parameters"]["properties"]["distance"]["maximum"]
        for c in (first, third)
    ]
    assert [type(limit) for limit in limits] == [int, float]


def test_tools_that_differ_around_equal_parameters_share_one_schema(tmp_path: Path) -> None:
    """BFCL-shaped files repeat a tool with a new description or new neighbours: the equal
    parameters become one object (one checker judges them all), unequal ones never."""
    move = "{{type: function, function: {{name: move, description: 'unit {i}', parameters: {p}}}}}"
    other = "{type: function, function: {name: stop}}"
    same = "{type: object, properties: {distance: {type: integer, maximum: 10}}}"
    cases = [(same, ""), (same, f", {other}"), (same.replace("10", "10.0"), ""), ("[]", "")]
    path = tmp_path / "suite.yaml"
    path.write_text(
        "cases:\n"
        + "".join(
            f"  - {{id: c{i}, prompt: Move {i}, expect: {{tool: move, args: {{distance: 3}}}},\n"
            f"     tools: [{move.format(i=i, p=parameters)}{more}]}}\n"
            for i, (parameters, more) in enumerate(cases[:3])
        ),
        encoding="utf-8",
    )
    first, second, third = load_suite(path, tmp_path).cases
    schema_of = [case.tools[0]["function"]["parameters"] for case in (first, second, third)]
    assert first.tools is not second.tools  # different lists stay different lists
    assert [tool["function"]["description"] for tool in first.tools + second.tools[:1]] == [
        "unit 0",
        "unit 1",
    ]
    assert schema_of[0] is schema_of[1] and schema_of[0] == schema_of[1]
    assert schema_of[2] is not schema_of[0]  # 10 vs 10.0
    assert type(schema_of[2]["properties"]["distance"]["maximum"]) is float
    assert tool_checker(schema_of[0]) is tool_checker(schema_of[1])
    path.write_text(
        f"cases:\n  - {{id: c9, prompt: Move, expect: {{tool: move}},\n"
        f"     tools: [{move.format(i=9, p=cases[3][0])}]}}\n",
        encoding="utf-8",
    )
    with pytest.raises(CaseFileError) as error:  # a list is no schema: still refused
        load_suite(path, tmp_path)
    assert "parameters" in str(error.value)


def test_a_changed_tools_file_is_read_again_even_with_the_same_mtime(tmp_path: Path) -> None:
    tools_path = tmp_path / "tools.yaml"
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "tools: tools.yaml\ncases:\n  - id: c1\n    prompt: p\n    expect: {tool: move}\n",
        encoding="utf-8",
    )
    tools_path.write_text(yaml.safe_dump([TOOL]), encoding="utf-8")
    stat = tools_path.stat()
    assert load_suite(suite, tmp_path).cases[0].tools[0]["function"]["name"] == "move"
    renamed = copy.deepcopy(TOOL)
    renamed["function"]["name"] = "glide"
    tools_path.write_text(yaml.safe_dump([renamed]), encoding="utf-8")
    import os

    os.utime(tools_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # mtime as before
    with pytest.raises(CaseFileError) as error:
        load_suite(suite, tmp_path)
    assert "'move' is not one of the suite's tools: glide" in str(error.value)
    tools_path.write_text("[not: valid", encoding="utf-8")
    with pytest.raises(CaseFileError, match="is not valid JSON/YAML"):
        load_suite(suite, tmp_path)
    assert tools_module._read_tools_file.cache_info().currsize >= 2
