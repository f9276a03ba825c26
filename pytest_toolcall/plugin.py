"""pytest hooks: options, collection of case files, run state registration."""

from __future__ import annotations

import fnmatch
import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_toolcall.cassettes import RECORD_MODES
from pytest_toolcall.collect.casefile import looks_like_case_file
from pytest_toolcall.nodes import CaseFile
from pytest_toolcall.report.json_report import BaselineError, load_baseline
from pytest_toolcall.runner import RunSettings
from pytest_toolcall.send.transport import SendSettings
from pytest_toolcall.session import STATE_KEY, Outputs, ToolcallSession

DEFAULT_FILE_GLOBS = "*.yaml *.yml"
PYTEST_RECORDING = "recording"  # pytest-recording's plugin name


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("toolcall", "LLM tool-calling cases (pytest-toolcall)")
    group.addoption(
        "--model",
        action="append",
        default=[],
        help="model to run every suite against; repeat to compare models",
    )
    group.addoption("--base-url", help="OpenAI-compatible API base URL (else OPENAI_BASE_URL)")
    if not _pytest_recording_active(pluginmanager):
        group.addoption(
            "--record-mode",
            choices=RECORD_MODES,
            default=None,
            help="cassette mode: none (default: replay only, offline), once/new_episodes "
            "(record what is missing), all (re-record what runs), rewrite (re-record, drop unused)",
        )
    group.addoption(
        "--toolcall-live",
        action="store_true",
        default=None,
        help="send every request to the model; read and write no cassette",
    )
    group.addoption("--toolcall-concurrency", type=int, help="requests in flight (default 8)")
    group.addoption("--toolcall-timeout", type=float, help="seconds per request (default 60)")
    group.addoption("--toolcall-retries", type=int, help="retries of transient errors (default 3)")
    group.addoption(
        "--toolcall-threshold", type=float, help="accuracy every suite must reach (overrides files)"
    )
    group.addoption(
        "--toolcall-strict", action="store_true", default=None, help="a missed case fails the run"
    )
    group.addoption("--toolcall-repeat", type=int, help="send each case N times (default 1)")
    group.addoption(
        "--toolcall-gate-lower-bound",
        action="store_true",
        default=None,
        help="gate on the lower end of the 95%% interval of accuracy (with --toolcall-repeat)",
    )
    group.addoption("--toolcall-report", metavar="PATH", help="write a JSON report of every case")
    group.addoption(
        "--toolcall-baseline",
        metavar="PATH",
        help="a committed JSON report: cases that passed there and miss now fail the run",
    )
    group.addoption("--toolcall-markdown", metavar="PATH", help="write the summary as Markdown")
    parser.addini("toolcall_model", "default model(s), whitespace separated", type="args")
    parser.addini("toolcall_base_url", "OpenAI-compatible API base URL")
    parser.addini("toolcall_record_mode", "default cassette record mode", default="none")
    parser.addini("toolcall_concurrency", "requests in flight", default="8")
    parser.addini("toolcall_timeout", "seconds per request", default="60")
    parser.addini("toolcall_retries", "retries of transient errors", default="3")
    parser.addini("toolcall_threshold", "accuracy every suite must reach")
    parser.addini("toolcall_strict", "a missed case fails the run", type="bool", default=False)
    parser.addini("toolcall_repeat", "send each case N times", default="1")
    parser.addini("toolcall_files", "globs of case files", default=DEFAULT_FILE_GLOBS)
    parser.addini(
        "toolcall_scrub_headers", "more headers kept out of cassettes", type="args", default=[]
    )
    parser.addini(
        "toolcall_headers",
        "extra request headers, one 'Name: value' a line; $VARIABLES are expanded",
        type="linelist",
        default=[],
    )


def _number(config: pytest.Config, option: str, ini: str, kind: type, minimum: float) -> Any:
    raw = config.getoption(option, None)
    value = raw if raw is not None else config.getini(ini)
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{ini}: {value!r} is not a number") from None
    if number < minimum:
        raise pytest.UsageError(f"--{option.replace('_', '-')}: must be at least {minimum}")
    return number


def _pytest_recording_active(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether pytest-recording defines --record-mode in this session (we then share it)."""
    if pluginmanager.has_plugin(PYTEST_RECORDING) or pluginmanager.has_plugin(
        "pytest_recording.plugin"
    ):
        return True
    installed = importlib.util.find_spec("pytest_recording") is not None
    autoloads = not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    return installed and autoloads and not pluginmanager.is_blocked(PYTEST_RECORDING)


def pytest_configure(config: pytest.Config) -> None:
    record_mode = config.getoption("record_mode", None) or config.getini("toolcall_record_mode")
    if record_mode not in RECORD_MODES:
        raise pytest.UsageError(
            f"toolcall_record_mode: {record_mode!r} is not one of {RECORD_MODES}"
        )
    threshold = config.getoption("toolcall_threshold", None)
    if threshold is None and config.getini("toolcall_threshold"):
        threshold = _number(config, "toolcall_threshold", "toolcall_threshold", float, 0)
    if threshold is not None and not 0 <= threshold <= 1:
        raise pytest.UsageError(f"--toolcall-threshold: {threshold} is not between 0 and 1")
    send = SendSettings(
        base_url=config.getoption("base_url", None)
        or config.getini("toolcall_base_url")
        or os.environ.get("OPENAI_BASE_URL")
        or None,
        api_key=os.environ.get("OPENAI_API_KEY") or None,
        concurrency=_number(config, "toolcall_concurrency", "toolcall_concurrency", int, 1),
        timeout_s=_number(config, "toolcall_timeout", "toolcall_timeout", float, 0.001),
        retries=_number(config, "toolcall_retries", "toolcall_retries", int, 0),
        headers=_headers(config.getini("toolcall_headers")),
    )
    settings = RunSettings(
        send=send,
        record_mode=record_mode,
        live=bool(config.getoption("toolcall_live", None)),
        repeat=_number(config, "toolcall_repeat", "toolcall_repeat", int, 1),
        extra_scrubbed_headers=tuple(config.getini("toolcall_scrub_headers")),
    )
    outputs = Outputs(
        report=_path(config, "toolcall_report"),
        markdown=_path(config, "toolcall_markdown"),
        baseline=_baseline(config),
    )
    strict = bool(config.getoption("toolcall_strict", None) or config.getini("toolcall_strict"))
    state = ToolcallSession(
        config,
        settings=settings,
        models=config.getoption("model", None) or config.getini("toolcall_model"),
        strict=strict,
        threshold_override=threshold,
        gate_on_lower_bound=bool(config.getoption("toolcall_gate_lower_bound", None)),
        outputs=outputs,
        options={
            "record_mode": settings.record_mode,
            "live": settings.live,
            "repeat": settings.repeat,
            "concurrency": send.concurrency,
            "timeout_s": send.timeout_s,
            "retries": send.retries,
            "threshold": threshold,
            "strict": strict,
            "base_url": send.base_url,
        },
    )
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(state, "toolcall-session")


def _headers(lines: list[str]) -> dict[str, str]:
    """`Name: value` lines (values may name environment variables) -> headers."""
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise pytest.UsageError(f"toolcall_headers: {line!r} is not 'Name: value'")
        headers[name.strip()] = os.path.expandvars(value.strip())
    return headers


def _path(config: pytest.Config, option: str) -> Path | None:
    value = config.getoption(option, None)
    return Path(value) if value else None


def _baseline(config: pytest.Config) -> dict[str, Any] | None:
    path = _path(config, "toolcall_baseline")
    if path is None:
        return None
    try:
        return load_baseline(path)
    except BaselineError as exc:
        raise pytest.UsageError(f"--toolcall-baseline: {exc}") from None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CaseFile | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    globs = parent.config.getini("toolcall_files")
    globs = globs.split() if isinstance(globs, str) else globs
    if not any(fnmatch.fnmatch(file_path.name, glob) for glob in globs):
        return None
    if not looks_like_case_file(file_path):
        return None
    return CaseFile.from_parent(parent, path=file_path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `-n`, send each case file whole to one worker (its cases go out as one batch)."""
    if config.getoption("dist", None) != "load":
        return None  # the user chose a distribution mode; respect it
    from pytest_toolcall.xdist_scheduling import CaseFileScheduling

    return CaseFileScheduling(config, log)
