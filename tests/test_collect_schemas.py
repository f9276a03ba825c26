"""Tool parameters written as Pydantic and MCP servers write them: $ref/$defs, allOf, anyOf."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
from helpers import runpytest

from pytest_toolcall.judge.matching import Outcome, ToolCall, judge

# CaptureArgs.model_json_schema() (Pydantic 2.14) for:
#   class Mode(str, Enum): photo, video, panorama
#   class Point(BaseModel): lat: float; lon: float; frame: Literal["wgs84", "local"] = "wgs84"
#       (model_config = ConfigDict(extra="forbid"), hence additionalProperties: false)
#   class CaptureArgs(BaseModel): mode: Mode; target: Point | None = None;
#       burst: int | None = Field(default=None, ge=1, le=10)
PYDANTIC_CAPTURE: dict[str, Any] = {
    "$defs": {
        "Mode": {"enum": ["photo", "video", "panorama"], "title": "Mode", "type": "string"},
        "Point": {
            "additionalProperties": False,
            "properties": {
                "lat": {"title": "Lat", "type": "number"},
                "lon": {"title": "Lon", "type": "number"},
                "frame": {
                    "default": "wgs84",
                    "enum": ["wgs84", "local"],
                    "title": "Frame",
                    "type": "string",
                },
            },
            "required": ["lat", "lon"],
            "title": "Point",
            "type": "object",
        },
    },
    "properties": {
        "mode": {"$ref": "#/$defs/Mode"},
        "target": {"anyOf": [{"$ref": "#/$defs/Point"}, {"type": "null"}], "default": None},
        "burst": {
            "anyOf": [{"maximum": 10, "minimum": 1, "type": "integer"}, {"type": "null"}],
            "default": None,
            "title": "Burst",
        },
    },
    "required": ["mode"],
    "title": "CaptureArgs",
    "type": "object",
}
# The whole parameters object behind a $ref (a TypeAdapter, some MCP servers).
TOP_REF: dict[str, Any] = {"$ref": "#/$defs/CaptureArgs", "$defs": {**PYDANTIC_CAPTURE["$defs"]}}
TOP_REF["$defs"]["CaptureArgs"] = {k: v for k, v in PYDANTIC_CAPTURE.items() if k != "$defs"}
# A base model's fields joined to the tool's own with allOf (draft-07 "definitions").
TOP_ALL_OF: dict[str, Any] = {
    "definitions": {
        "Base": {
            "type": "object",
            "properties": {"drone": {"type": "string"}},
            "required": ["drone"],
        }
    },
    "allOf": [
        {"$ref": "#/definitions/Base"},
        {"type": "object", "properties": {"speed": {"type": "integer", "minimum": 0}}},
    ],
}
# Either of two argument sets.
TOP_ANY_OF: dict[str, Any] = {
    "type": "object",
    "anyOf": [
        {"properties": {"city": {"type": "string"}}, "required": ["city"]},
        {"properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
    ],
}
TOOLS = {
    "capture": PYDANTIC_CAPTURE,
    "capture_ref": TOP_REF,
    "fly": TOP_ALL_OF,
    "where": TOP_ANY_OF,
}


def judged(tool: str, expect_args: dict[str, Any], **actual: Any) -> Any:
    return judge({"tool": tool, "args": expect_args}, [ToolCall(tool, json.dumps(actual))], TOOLS)


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("capture", {"mode": "photo", "target": {"lat": 1.5, "lon": 2, "frame": "local"}}),
        ("capture_ref", {"mode": "video", "burst": 3}),
        ("fly", {"drone": "d1", "speed": 20}),
        ("where", {"city": "Oslo"}),
        ("where", {"lat": 59.9, "lon": 10.7}),
    ],
)
def test_arguments_declared_through_ref_all_of_any_of_pass(tool: str, args: dict[str, Any]):
    assert judged(tool, args, **args).outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("tool", "actual", "detail"),
    [
        ("capture_ref", {"mode": "photo", "zoom": 2}, "capture_ref args.zoom: no such argument"),
        ("fly", {"drone": "d1", "altitude": 3}, "fly args.altitude: no such argument"),
        ("fly", {"speed": 3}, "fly args: 'drone' is a required property"),
        ("capture", {"mode": "photo", "target": {"lat": 1, "lon": 2, "alt": 3}}, "target"),
        ("capture_ref", {"mode": "sketch"}, "capture_ref args.mode: 'sketch' is not one of"),
        ("fly", {"drone": "d1", "speed": 2.0}, "fly args.speed: 2.0 is not of type 'integer'"),
    ],
)
def test_bfcl_rules_hold_through_refs(tool: str, actual: dict[str, Any], detail: str):
    verdict = judge({"tool": tool}, [ToolCall(tool, json.dumps(actual))], TOOLS)
    assert verdict.outcome is Outcome.INVALID_ARGS
    assert detail in verdict.detail


def test_int_still_fits_a_number_behind_a_ref():
    args = {"mode": "photo", "target": {"lat": 1, "lon": 2}}
    assert judged("capture", args, **args).outcome is Outcome.PASS


SUITE = """\
tools: tools.json
cases:
  - id: fine
    prompt: Take a photo of 59.9, 10.7
    expect:
      tool: capture
      args: {{mode: photo, target: {{lat: 59.9, lon: 10.7}}, burst: {{$one_of: [1, null]}}}}
  - id: also-fine
    prompt: Fly d1 at 20
    expect: {{tool: fly, args: {{drone: d1, speed: 20}}}}
  - id: broken
    prompt: Take a sketch
    expect:
      tool: capture
      args: {args}
"""


def write(pytester: pytest.Pytester, args: str) -> None:
    tools = [
        {"type": "function", "function": {"name": name, "parameters": parameters}}
        for name, parameters in TOOLS.items()
    ]
    (pytester.path / "tools.json").write_text(json.dumps(tools))
    pytester.makefile(".yaml", suite=textwrap.dedent(SUITE.format(args=args)))


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("{mode: sketch}", "expect.args.mode: 'sketch' is not one of photo, video, panorama"),
        (
            "{mode: photo, target: {lat: 1, lon: 2, frame: mars}}",
            "expect.args.target.frame: 'mars' is not one of wgs84, local",
        ),
        (
            "{mode: photo, target: {lat: 1, lon: 2, alt: 3}}",
            "expect.args.target.alt: capture.target has no key 'alt' (it has: frame, lat, lon)",
        ),
        ("{mode: photo, target: {lat: north}}", "expect.args.target.lat: 'north' is not of type"),
        ("{mode: photo, burst: 11}", "expect.args.burst: 11 is greater than the maximum of 10"),
        ("{mode: {$one_of: [photo, sketch]}}", "expect.args.mode: 'sketch' is not one of"),
    ],
)
def test_expectation_behind_a_ref_is_a_collection_error(pytester, args: str, problem: str):
    write(pytester, args)
    result = runpytest(pytester, "--model=m", "--collect-only", "-q")
    output = result.stdout.str()
    assert result.ret != 0, output
    assert "suite.yaml:15: case 'broken': " + problem in output, output


def test_ref_all_of_and_any_of_schemas_collect_cleanly(pytester):
    write(pytester, "{mode: {$one_of: [photo, video]}, target: {lat: {$between: [0, 90]}}}")
    result = runpytest(pytester, "--model=m", "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*4 tests collected*"])
