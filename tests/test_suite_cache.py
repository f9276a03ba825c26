"""Loaded suites come from pytest's cache while nothing they depend on has changed, and
never otherwise: each test counts the real loads of a pytester session's case files."""

from __future__ import annotations

import base64
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from helpers import QUIET, runpytest

from pytest_toolcall.collect import suite_cache
from pytest_toolcall.collect.casefile import load_suite

SUITE = """\
suite: drone
system: prompts/system.txt
tools: tools.json
cases:
  - id: land
    prompt: Land the drone at the home base
    expect: {tool: land_drone, args: {location: home_base}}
    tags: [flight]
  - id: nothing
    prompt: thanks
    expect: {no_call: true}
"""
MCP_SUITE = """\
tools: {mcp: {command: [python, server.py]}}
cases:
  - {id: weather, prompt: weather in Paris, expect: {tool: get_weather, args: {city: Paris}}}
"""


def snapshot(description: str) -> str:
    """An MCP tools snapshot of `python server.py` listing one tool."""
    tool = {
        "name": "get_weather",
        "description": description,
        "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    servers = [{"command": ["python", "server.py"], "tools": [tool]}]
    return json.dumps({"pytest_toolcall": {"mcp_tools_snapshot": 1}, "servers": servers})


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the case files really loaded (parsed, validated), in order."""
    loaded: list[str] = []

    def counting(path: Path, rootdir: Path, **options: Any) -> Any:
        loaded.append(path.name)
        return load_suite(path, rootdir, **options)

    monkeypatch.setattr(suite_cache, "load_suite", counting)
    return loaded


@pytest.fixture
def drone(pytester: pytest.Pytester, drone_tools: Path) -> Path:
    """suite.yaml with a tools file and a system prompt file."""
    (pytester.path / "prompts").mkdir()
    (pytester.path / "prompts" / "system.txt").write_text("You control a drone.\n")
    target = pytester.path / "suite.yaml"
    target.write_text(SUITE)
    return target


def collected(pytester: pytest.Pytester, *args: str) -> list[Any]:
    """The items of an in-process `--collect-only` session (its CaseItems carry the case)."""
    recorder = pytester.inline_run(*QUIET, "--model=m", "--collect-only", *args)
    return [call.item for call in recorder.getcalls("pytest_itemcollected")]


def entries(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / ".pytest_cache" / "d" / suite_cache.CACHE_DIR).glob("*"))


def test_a_second_collection_is_served_from_the_cache(pytester, drone, loads):
    first = runpytest(pytester, "--model=m", "--collect-only", "-q")
    assert loads == ["suite.yaml"] and len(entries(pytester)) == 1
    second = runpytest(pytester, "--model=m", "--collect-only", "-q")
    assert loads == ["suite.yaml"]  # not loaded again
    ids = [line for line in second.stdout.lines if "::" in line]
    assert ids == ["suite.yaml::land", "suite.yaml::nothing", "suite.yaml::gate"]
    assert ids == [line for line in first.stdout.lines if "::" in line]


def test_a_served_suite_equals_a_fresh_load_and_keeps_its_sharing(pytester, drone, loads):
    collected(pytester)
    items = collected(pytester)
    assert loads == ["suite.yaml"]
    served = items[0].suite
    fresh = load_suite(drone, pytester.path)
    assert served == fresh and served is not fresh
    land, nothing = served.cases
    assert land.tools is nothing.tools  # one tools tuple for the file, as loaded
    assert land.tool_parameters["land_drone"] is land.tools[1]["function"]["parameters"]
    shared = fresh.cases[0].tool_parameters is fresh.cases[1].tool_parameters
    assert (land.tool_parameters is nothing.tool_parameters) == shared
    tool, fresh_tool = land.tools[1], fresh.cases[0].tools[1]
    assert type(tool) is type(fresh_tool) is dict  # plain: lines only matter while checking
    assert [item.own_markers[0].name for item in items[:1]] == ["flight"]


@pytest.mark.parametrize("edited", ["case file", "tools file", "system prompt file"])
def test_an_edited_file_is_loaded_again(pytester, drone, loads, edited):
    collected(pytester)
    if edited == "case file":
        drone.write_text(SUITE.replace("id: land", "id: touch-down"))
    elif edited == "tools file":
        tools = json.loads((pytester.path / "tools.json").read_text())
        tools[1]["function"]["description"] = "Land, now edited."
        (pytester.path / "tools.json").write_text(json.dumps(tools))
    else:
        (pytester.path / "prompts" / "system.txt").write_text("You fly a drone.\n")
    case = collected(pytester)[0].case
    assert loads == ["suite.yaml", "suite.yaml"]
    expected = {
        "case file": ("touch-down", "You control a drone.\n"),
        "tools file": ("land", "You control a drone.\n"),
        "system prompt file": ("land", "You fly a drone.\n"),
    }[edited]
    assert (case.id, case.system) == expected
    edited_tool = case.tools[1]["function"].get("description") == "Land, now edited."
    assert edited_tool == (edited == "tools file")
    collected(pytester)
    assert loads == ["suite.yaml", "suite.yaml"]  # the new result is served in its turn


def test_a_file_appearing_where_none_was_is_read(pytester, drone_tools, loads):
    """`system: notes` is the text "notes" while no file `notes` exists, then the file."""
    pytester.makefile(".yaml", suite=SUITE.replace("prompts/system.txt", "notes"))
    assert collected(pytester)[0].case.system == "notes"
    (pytester.path / "notes").write_text("From the file.")
    assert collected(pytester)[0].case.system == "From the file."
    assert loads == ["suite.yaml", "suite.yaml"]


def test_an_edited_mcp_snapshot_is_loaded_again(pytester, loads):
    pytester.makefile(".yaml", suite=MCP_SUITE)
    (pytester.path / "cassettes" / "mcp").mkdir(parents=True)
    saved = pytester.path / "cassettes" / "mcp" / "suite.tools.json"
    saved.write_text(snapshot("Weather for a city."))
    assert collected(pytester)[0].case.tools[0]["function"]["description"] == (
        "Weather for a city."
    )
    collected(pytester)
    assert loads == ["suite.yaml"]
    saved.write_text(snapshot("The weather, edited."))
    tools = collected(pytester)[0].case.tools
    assert tools[0]["function"]["description"] == "The weather, edited."
    assert loads == ["suite.yaml", "suite.yaml"]


def test_a_missing_mcp_snapshot_is_an_error_every_time(pytester, loads):
    pytester.makefile(".yaml", suite=MCP_SUITE)
    for _ in range(2):
        result = runpytest(pytester, "--model=m", "--collect-only")
        result.stdout.fnmatch_lines(["*no snapshot of the tools of MCP server*"])
    assert loads == ["suite.yaml", "suite.yaml"] and entries(pytester) == []


def test_registering_another_marker_loads_again(pytester, drone, loads):
    pytester.makeini("[pytest]\nmarkers =\n    slow: a slow case\n")
    collected(pytester)
    collected(pytester)
    assert loads == ["suite.yaml"]
    pytester.makeini("[pytest]\nmarkers =\n    slow: a slow case\n    nightly: at night\n")
    assert [item.name for item in collected(pytester)] == ["land", "nothing", "gate"]
    assert loads == ["suite.yaml", "suite.yaml"]


def test_other_code_loads_again(pytester, drone, loads, monkeypatch):
    collected(pytester)
    environment = [*suite_cache._environment(), "another version"]
    monkeypatch.setattr(suite_cache, "_environment", lambda: environment)
    collected(pytester)
    assert loads == ["suite.yaml", "suite.yaml"]


def test_without_the_cacheprovider_nothing_is_cached(pytester, drone, loads):
    for _ in range(2):
        items = collected(pytester, "-p", "no:cacheprovider")
        assert [item.name for item in items] == ["land", "nothing", "gate"]
    assert loads == ["suite.yaml", "suite.yaml"]
    assert not (pytester.path / ".pytest_cache").exists()


def test_cache_clear_clears_the_suites(pytester, drone, loads):
    collected(pytester)
    collected(pytester, "--cache-clear")
    assert loads == ["suite.yaml", "suite.yaml"]


@pytest.mark.parametrize(
    "damage",
    ["empty", "not json", "other key", "bad base64", "not a pickle", "not a suite", "truncated"],
)
def test_a_damaged_entry_is_ignored_and_replaced(pytester, drone, loads, damage):
    collected(pytester)
    (entry,) = entries(pytester)
    header, _, payload = entry.read_bytes().partition(b"\n")
    other_key = json.dumps({**json.loads(header), "key": "0" * 64}).encode()
    damaged = {
        "empty": b"",
        "not json": b"{\n" + payload,
        "other key": other_key + b"\n" + payload,
        "bad base64": header + b"\n!!" + payload,
        "not a pickle": header + b"\n" + base64.b64encode(b"not a pickle"),
        "not a suite": header + b"\n" + base64.b64encode(pickle.dumps({"cases": []})),
        "truncated": header + b"\n" + payload[: len(payload) // 2],
    }[damage]
    entry.write_bytes(damaged)
    assert [item.name for item in collected(pytester)] == ["land", "nothing", "gate"]
    assert loads == ["suite.yaml", "suite.yaml"]
    assert entry.read_bytes() != damaged  # rewritten
    collected(pytester)
    assert loads == ["suite.yaml", "suite.yaml"]


def test_a_failed_write_is_silent(pytester, drone, loads, monkeypatch):
    def refused(path: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(suite_cache, "write_atomic", refused)
    for _ in range(2):
        result = runpytest(pytester, "--model=m", "--collect-only", "-q")
        assert result.ret == 0 and "Permission" not in result.stdout.str()
    assert loads == ["suite.yaml", "suite.yaml"] and entries(pytester) == []


def test_a_broken_file_is_never_cached_and_reports_the_same(pytester, drone, loads):
    broken = SUITE.replace("id: nothing", "id: land")  # a duplicate id
    drone.write_text(broken)
    without = runpytest(pytester, "--model=m", "--collect-only", "-p", "no:cacheprovider")
    runs = [runpytest(pytester, "--model=m", "--collect-only") for _ in range(2)]
    assert loads == ["suite.yaml"] * 3 and entries(pytester) == []
    for result in runs:
        assert result.ret == without.ret != 0
        errors = [line for line in result.stdout.lines if line.startswith("suite.yaml")]
        assert errors == [line for line in without.stdout.lines if line.startswith("suite.yaml")]
        assert errors and "duplicate id" in errors[0]


def test_a_file_broken_after_being_cached_reports_its_error(pytester, drone, loads):
    collected(pytester)
    (pytester.path / "tools.json").write_text("[{not json")
    result = runpytest(pytester, "--model=m", "--collect-only")
    result.stdout.fnmatch_lines(["suite.yaml:3: tools file *tools.json is not valid JSON/YAML*"])
    assert loads == ["suite.yaml", "suite.yaml"]


def test_a_recording_run_neither_reads_nor_writes_the_cache(pytester, drone, loads):
    collected(pytester)
    collected(pytester, "--record-mode=once", "--toolcall-base-url=http://127.0.0.1:9/v1")
    assert loads == ["suite.yaml", "suite.yaml"]
    collected(pytester)
    assert loads == ["suite.yaml", "suite.yaml"]  # the entry of the first run is still there


def test_a_separate_process_is_served_too(pytester, drone):
    """Across processes (the code digest, pickling): a conftest counts the loads."""
    pytester.makeconftest(
        """
        from pathlib import Path
        from pytest_toolcall.collect import suite_cache

        real = suite_cache.load_suite

        def counting(path, rootdir, **options):
            with Path("loads.txt").open("a") as log:
                log.write(path.name + "\\n")
            return real(path, rootdir, **options)

        suite_cache.load_suite = counting
        """
    )
    outputs = []
    for _ in range(2):
        result = pytester.runpytest_subprocess("--model=m", "--collect-only", "-q")
        assert result.ret == 0
        outputs.append([line for line in result.stdout.lines if "::" in line])
    assert (pytester.path / "loads.txt").read_text() == "suite.yaml\n"
    assert (
        outputs[0] == outputs[1] == ["suite.yaml::land", "suite.yaml::nothing", "suite.yaml::gate"]
    )
