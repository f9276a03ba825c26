"""A pytest plugin for benchmark runs: where the wall time of one pytest process went.

Loaded with ``-p phases`` (``benchmarks/`` on ``PYTHONPATH``). It stamps session-level
hooks and adds up the call phase of pytest-toolcall's items (case items and gates: the
time they waited for their answers and judged them; the engine sends in the background
meanwhile), so a run splits into start-up, collection, tests (of which items) and exit.
At exit it writes JSON to ``$BENCH_PHASES_OUT``; ``$BENCH_T0`` is the launcher's
``time.time()`` just before it started the process.
"""

from __future__ import annotations

import json
import os
import time

import pytest

_stamps: dict[str, float] = {"plugin_imported": time.time()}
_items = {"seconds": 0.0, "count": 0}
TOOLCALL_ITEMS = ("CaseItem", "GateItem")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    _stamps["configured"] = time.time()


def pytest_sessionstart(session: pytest.Session) -> None:
    _stamps["session_started"] = time.time()


def pytest_collection_finish(session: pytest.Session) -> None:
    _stamps["collected"] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    yield
    if type(item).__name__ in TOOLCALL_ITEMS:
        _items["seconds"] += time.perf_counter() - started
        _items["count"] += 1


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
        "items_s": _items["seconds"] if _items["count"] else None,
        "items": _items["count"],
    }
    with open(out, "w", encoding="utf-8") as stream:
        json.dump(phases, stream)
