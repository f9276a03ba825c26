"""pytest hooks: options, collection of case files, run state registration.

Every option is the plugin's own (`--toolcall-...`), except `--model` and `--record-mode`;
`--record-mode` is pytest-recording's when that is installed (the two share it), ours
otherwise, and `--toolcall-record-mode` works in every case.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest

from pytest_toolcall.cassettes import RECORD_MODES
from pytest_toolcall.collect.api import APIS, dropped_text, suite_on_api
from pytest_toolcall.collect.casefile import Case, Suite, looks_like_case_file, relative_path
from pytest_toolcall.nodes import STATE_KEY, CaseFile, CaseItem, GateItem
from pytest_toolcall.settings import run_api, session_from_config

DEFAULT_FILE_GLOBS = "*.yaml *.yml"
CASE_FILE_SUFFIXES = (".yaml", ".yml")
PYTEST_RECORDING_MODULE = "pytest_recording.plugin"
RECORD_MODE_HELP = (
    "cassette mode: none (default: replay only, offline), once/new_episodes (record what is "
    "missing), all (re-record what runs), rewrite (re-record, drop unused)"
)


class ToolcallApiWarning(pytest.PytestWarning):
    """A case moved to another API by the run has params that API does not have."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("toolcall", "LLM tool-calling cases (pytest-toolcall)")
    group.addoption(
        "--model",
        action="append",
        default=[],
        help="model to run every suite against; repeat to compare models",
    )
    group.addoption(
        "--toolcall-base-url", help="OpenAI-compatible API base URL (else OPENAI_BASE_URL)"
    )
    group.addoption("--toolcall-record-mode", choices=RECORD_MODES, help=RECORD_MODE_HELP)
    group.addoption(
        "--toolcall-live",
        action="store_true",
        default=None,
        help="send every request to the model; read and write no cassette",
    )
    group.addoption(
        "--toolcall-batch",
        action="store_true",
        default=None,
        help="record through the Batch API (half price, within 24 h): what must be recorded "
        "goes out as batches, followed until answered; a stopped run resumes them",
    )
    group.addoption(
        "--toolcall-batch-poll",
        type=float,
        metavar="SECONDS",
        help="with --toolcall-batch: seconds between two reads of a batch (default 30)",
    )
    group.addoption(
        "--toolcall-api",
        choices=APIS,
        help="send every case to this API: chat (Chat Completions) or responses, whatever "
        "its file says (default: each case's api:, else chat)",
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
    group.addoption(
        "--toolcall-regressions",
        choices=("any", "significant"),
        help="with --toolcall-baseline: fail on any regression (default), or only on "
        "significantly more regressions than fixes (paired exact test)",
    )
    group.addoption(
        "--toolcall-alpha", type=float, help="significance level of paired tests (default 0.05)"
    )
    group.addoption("--toolcall-markdown", metavar="PATH", help="write the summary as Markdown")
    parser.addini("toolcall_model", "default model(s), whitespace separated", type="args")
    parser.addini("toolcall_base_url", "OpenAI-compatible API base URL")
    parser.addini("toolcall_record_mode", "default cassette record mode", default="none")
    parser.addini(
        "toolcall_batch", "record through the Batch API when recording", type="bool", default=False
    )
    parser.addini("toolcall_batch_poll", "seconds between two reads of a batch", default="30")
    parser.addini("toolcall_api", "API for every case: chat or responses (default: the files')")
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
    parser.addini(
        "toolcall_prices",
        "USD per million input and output tokens, one 'MODEL = INPUT OUTPUT' a line",
        type="linelist",
        default=[],
    )


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser) -> None:
    """`--record-mode` is ours unless pytest-recording defines it: asked here, once every
    plugin named by -p or installed is loaded (in whatever order) and before options
    are parsed; defining it twice would stop pytest."""
    names = {getattr(plugin, "__name__", "") for plugin in early_config.pluginmanager.get_plugins()}
    if PYTEST_RECORDING_MODULE not in names:
        group = parser.getgroup("toolcall")
        group.addoption("--record-mode", choices=RECORD_MODES, help=RECORD_MODE_HELP)


def pytest_configure(config: pytest.Config) -> None:
    state = session_from_config(config)
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(state, "toolcall-session")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--toolcall-api` / ini `toolcall_api`: every case on that API, whatever its file says
    (before anything else looks at the items). Params the API lacks are dropped, with a
    warning per file."""
    api = run_api(config)
    if api is None:
        return
    how = "--toolcall-api" if config.getoption("toolcall_api", None) else "ini toolcall_api"
    moved: dict[int, tuple[Suite, dict[str, Case]]] = {}
    for item in items:
        suite = getattr(item, "suite", None)
        if not isinstance(suite, Suite) or not isinstance(item, CaseItem | GateItem):
            continue
        if id(suite) not in moved:
            on_api, dropped = suite_on_api(suite, api)
            moved[id(suite)] = on_api, {case.id: case for case in on_api.cases}
            if dropped and item.parent is not None:
                where = relative_path(suite.path, config.rootpath)
                item.parent.warn(ToolcallApiWarning(dropped_text(where, api, dropped, how)))
        on_api, by_id = moved[id(suite)]
        item.suite = on_api
        if isinstance(item, CaseItem):
            item.case = by_id[item.case.id]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CaseFile | None:
    if file_path.suffix not in CASE_FILE_SUFFIXES:
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
    """Under `-n` (`--dist load`), send each case file whole to one worker: its requests
    then go out together. Any other `--dist` is respected (answers are shared anyway)."""
    if config.getoption("dist", None) != "load":
        return None
    from pytest_toolcall.xdist_scheduling import CaseFileScheduling

    return CaseFileScheduling(config, log)
