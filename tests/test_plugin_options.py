"""Living beside other plugins and tests: our options, pytest's defaults, clear usage errors."""

from __future__ import annotations

import json

import pytest
from helpers import runpytest

LAND = {"tool": "land_drone", "args": {"location": "home_base"}}
SUITE = """tools: tools.json
cases:
  - {id: c0, prompt: land 0, expect: {tool: land_drone, args: {location: home_base}}}
"""


def test_runs_beside_pytest_base_url(pytester, fake_openai, drone_tools):
    pytest.importorskip("pytest_base_url")
    pytester.makefile(".yaml", suite=SUITE)
    server = fake_openai({"land 0": LAND})
    result = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live"
    )
    assert "base-url" in result.stdout.str().splitlines()[3]  # pytest-base-url was loaded
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(
    "plugins",
    [
        ("pytest_toolcall.plugin", "pytest_recording.plugin"),
        ("pytest_recording.plugin", "pytest_toolcall.plugin"),
        ("pytest_toolcall.plugin",),
    ],
    ids=["ours-first", "recording-first", "ours-alone"],
)
def test_record_mode_in_every_load_order(pytester, fake_openai, drone_tools, plugins, monkeypatch):
    pytest.importorskip("pytest_recording")
    pytester.makefile(".yaml", suite=SUITE)
    server = fake_openai({"land 0": LAND})
    loading = [arg for plugin in plugins for arg in ("-p", plugin)]
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    command = ["--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once"]
    result = pytester.run(
        "python", "-m", "pytest", *loading, "-p", "pytester", *command, timeout=60
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    saved = json.loads((pytester.path / "cassettes" / "m" / "suite.json").read_text())
    assert len(saved["interactions"]) == 1


def test_toolcall_record_mode_and_record_mode_must_agree(pytester, drone_tools):
    pytester.makefile(".yaml", suite=SUITE)
    result = runpytest(pytester, "--model=m", "--record-mode=once", "--toolcall-record-mode=all")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--toolcall-record-mode=all and --record-mode=once disagree*"])


def test_an_empty_model_name_is_a_usage_error(pytester, drone_tools):
    pytester.makefile(".yaml", suite=SUITE)
    result = runpytest(pytester, "--model=")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--model: the model name is empty*"])


def test_a_broken_case_file_keeps_pytests_own_collection_default(pytester, drone_tools):
    pytester.makefile(".yaml", broken="cases:\n  - {prompt: x, expect: {tool: nope}}\n")
    pytester.makefile(".yaml", suite=SUITE)
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    stopped = runpytest(pytester, "--model=m")
    stopped.stdout.fnmatch_lines(["*Interrupted: 1 error during collection*"])
    assert stopped.parseoutcomes().get("passed") is None  # as for a broken Python module
    going_on = runpytest(pytester, "--model=m", "--continue-on-collection-errors")
    # test_other runs; c0 has no recording and its gate judged nothing
    going_on.assert_outcomes(passed=1, errors=2, failed=1)


def test_case_files_sharing_a_cassette_are_a_collection_error(pytester, drone_tools):
    pytester.makefile(".yaml", orders=SUITE)
    pytester.makefile(".yml", orders=SUITE)
    result = runpytest(pytester, "--model=m", "--continue-on-collection-errors")
    result.stdout.fnmatch_lines(
        ["*orders.y*ml: its cassette *orders.json would also be the cassette of *orders.y*ml*"]
    )
    assert result.ret != 0
