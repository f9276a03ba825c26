"""A pytest plugin for benchmark runs: where the wall time of one pytest process went.

Loaded with ``-p phases`` (``benchmarks/`` on ``PYTHONPATH``). It only stamps session-level
hooks (nothing per item, so it costs microseconds) and times pytest-toolcall's
``run_batches`` (cassette load or live send, plus judging) when that plugin is active.
At exit it writes JSON to ``$BENCH_PHASES_OUT``; ``$BENCH_T0`` is the launcher's
``time.time()`` just before it started the process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from functools import wraps
from typing import Any

import pytest

_stamps: dict[str, float] = {"plugin_imported": time.time()}
_run_batches_s: list[float] = []


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    _stamps["configured"] = time.time()
    session_module = sys.modules.get("pytest_toolcall.session")
    if session_module is None or not config.pluginmanager.has_plugin("toolcall-session"):
        return
    original = session_module.run_batches

    @wraps(original)
    def timed_run_batches(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _run_batches_s.append(time.perf_counter() - started)

    session_module.run_batches = timed_run_batches


def pytest_sessionstart(session: pytest.Session) -> None:
    _stamps["session_started"] = time.time()


def pytest_collection_finish(session: pytest.Session) -> None:
    _stamps["collected"] = time.time()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    _stamps["tests_done"] = time.time()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    out = os.environ.get("BENCH_PHASES_OUT")
    if not out:
        return
    stamps = dict(_stamps, unconfigured=time.time())
    start = float(os.environ.get("BENCH_T0", stamps["plugin_imported"]))

    def between(first: str, second: str) -> float | None:
        if first == "t0":
            return stamps[second] - start if second in stamps else None
        return stamps[second] - stamps[first] if {first, second} <= stamps.keys() else None

    phases = {
        "startup_s": between("t0", "session_started"),
        "collect_s": between("session_started", "collected"),
        "run_s": between("collected", "tests_done"),
        "finish_s": between("tests_done", "unconfigured"),
        "run_batches_s": sum(_run_batches_s) if _run_batches_s else None,
        "calls": len(_run_batches_s),
    }
    with open(out, "w", encoding="utf-8") as stream:
        json.dump(phases, stream)
