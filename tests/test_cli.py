"""The `pytest-toolcall` command line itself: help, usage errors, the console script."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_toolcall.datagen.cli import main


def test_help_lists_both_commands(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "generate" in out and "export" in out


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("generate", ["--prompts-per-call K", "--reject-tool NAME", "--record-mode", "example:"]),
        ("export", ["--strip-descriptions", "--val-split FRACTION", "example:"]),
    ],
)
def test_each_command_has_help(capsys, command, words):
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert all(word in out for word in words), out


def test_no_command_shows_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: pytest-toolcall" in capsys.readouterr().err


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["generate", "--tools", "t.json"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("pytest-toolcall: error: the following arguments are required: --model")


def test_a_real_process_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_toolcall.datagen.cli",
            "export",
            "nope.yaml",
            "--out",
            "t.jsonl",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == "pytest-toolcall: error: no such case file: nope.yaml\n"
