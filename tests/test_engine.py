"""The run engine: answers stream into pytest as they arrive, each request sent once.

Ordering is proven with answers the fake server holds until the test lets them through,
never with sleeps.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import Future

import pytest
from helpers import runpytest

from pytest_toolcall.recorder import Settled, in_arrival_order

LAND = {"tool": "land_drone", "args": {"location": "home_base"}}
EXPECT = "{tool: land_drone, args: {location: home_base}}"


def suite(count: int, prefix: str = "land") -> str:
    cases = "".join(
        f"  - {{id: c{i}, prompt: '{prefix} {i}', expect: {EXPECT}}}\n" for i in range(count)
    )
    return f"tools: tools.json\nthreshold: 0.5\ncases:\n{cases}"


def script(count: int, prefix: str = "land") -> dict[str, dict]:
    return {f"{prefix} {i}": LAND for i in range(count)}


def live(server, *args: str) -> list[str]:
    return ["--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live", *args]


class ReleaseAfterReports:
    """An in-process plugin: lets a held answer through once `count` case items reported."""

    def __init__(self, held, count: int) -> None:
        self.held, self.count = held, count
        self.reported: list[str] = []
        self.released_after: list[str] | None = None

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" and "gate" not in report.nodeid:
            self.reported.append(report.nodeid.split("::")[1])
            if len(self.reported) == self.count and not self.held.is_set():
                self.released_after = list(self.reported)
                self.held.set()


def test_items_report_while_a_later_answer_is_still_held(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=suite(20))
    server = fake_openai(script(20))
    held = server.hold("land 19")
    watcher = ReleaseAfterReports(held, 1)
    result = pytester.runpytest(*live(server, "--toolcall-concurrency=20"), plugins=[watcher])
    # The first case reported while the last answer was still held: it did not wait for
    # the round. (Had it, the held answer would never come and c19 would error.)
    assert watcher.released_after == ["c0"]
    result.assert_outcomes(passed=21)
    assert len(server.requests) == 20


def test_an_items_time_is_its_own_wait(pytester, fake_openai, drone_tools):
    """c0's report, and so the time JUnit gives it, ends before c19's held answer is let
    through, which happens only once 19 cases have reported: c0 is not charged c19's wait
    (the old engine charged the round to c0, so no case reported before every answer came;
    here c19 would then have been held for good). Evidence by order, not by durations."""
    pytester.makefile(".yaml", suite=suite(20))
    server = fake_openai(script(20))
    held = server.hold("land 19")
    watcher = ReleaseAfterReports(held, 19)
    result = pytester.runpytest(
        *live(server, "--toolcall-concurrency=20", "--junitxml=junit.xml"), plugins=[watcher]
    )
    result.assert_outcomes(passed=21)
    assert watcher.released_after is not None and len(watcher.released_after) == 19
    assert watcher.released_after[0] == "c0" and "c19" not in watcher.released_after
    times = {
        case.get("name"): float(case.get("time"))
        for case in ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    }
    assert set(times) >= {"c0", "c19"}  # each case timed on its own


def test_x_in_strict_mode_leaves_later_requests_unsent(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=suite(10))
    answers = script(10)
    answers["land 0"] = {"tool": "reject_request"}  # an early miss
    server = fake_openai(answers)
    held = server.hold("land 1")  # in flight while c0 fails; awaited, then it times out
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--record-mode=once",
        "--toolcall-concurrency=1",
        "--toolcall-timeout=1",
        "--toolcall-retries=0",
        "--toolcall-strict",
        "-x",
    )
    held.set()
    result.assert_outcomes(failed=1)
    assert server.prompts() == ["land 0", "land 1"]  # c2..c9 never sent
    saved = json.loads((pytester.path / "cassettes" / "m" / "suite.json").read_text())
    assert len(saved["interactions"]) == 1  # what arrived (c0's miss) is kept


class ReleaseAfterStop:
    """Lets a held answer through right after the plugin saw the first failure (-x)."""

    def __init__(self, held) -> None:
        self.held = held

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report):
        yield  # the plugin's own hook (stop sending) has run
        if report.when == "call" and report.failed:
            self.held.set()


def x_run(pytester, server, *args: str, plugins=()) -> pytest.RunResult:
    return pytester.runpytest(
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-concurrency=1",
        "--toolcall-strict",
        "-x",
        *args,
        plugins=list(plugins),
    )


def test_x_awaits_and_records_the_answer_in_flight(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=suite(10))
    answers = script(10)
    answers["land 0"] = {"tool": "reject_request"}
    server = fake_openai(answers)
    held = server.hold("land 1")
    result = x_run(pytester, server, "--record-mode=once", plugins=[ReleaseAfterStop(held)])
    result.assert_outcomes(failed=1)
    assert server.prompts() == ["land 0", "land 1"]
    saved = json.loads((pytester.path / "cassettes" / "m" / "suite.json").read_text())
    assert len(saved["interactions"]) == 2  # c1 was paid for: kept, not asked again later


def test_rewrite_stopped_by_x_keeps_what_it_did_not_reach(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=suite(10))
    server = fake_openai(script(10))
    runpytest(pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once")
    server.script["land 0"] = {"tool": "reject_request"}
    x_run(pytester, server, "--record-mode=rewrite").assert_outcomes(failed=1)
    saved = json.loads((pytester.path / "cassettes" / "m" / "suite.json").read_text())
    assert len(saved["interactions"]) == 10  # c2..c9 were not reached: not dropped


def test_a_malformed_answer_is_one_error_sent_once(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=suite(6))
    pytester.makefile(".yaml", other=suite(3, "other"))
    answers = {**script(6), **script(3, "other")}
    answers["land 2"] = {"choices": [{"message": "I am a string"}]}
    server = fake_openai(answers)
    result = runpytest(pytester, *live(server))
    result.assert_outcomes(passed=10, errors=1)  # 8 cases, 2 gates
    assert "Traceback" not in result.stdout.str()
    assert len(server.requests) == 9  # every case once, the bad one included


@pytest.mark.parametrize("dist", ["load", "loadfile", "loadgroup", "worksteal", "each"])
def test_every_dist_mode_sends_each_case_once(pytester, fake_openai, drone_tools, dist):
    pytest.importorskip("xdist")
    for name in ("alpha", "beta"):
        pytester.makefile(".yaml", **{name: suite(6, name)})
    answers = {**script(6, "alpha"), **script(6, "beta")}
    answers["alpha 3"] = answers["beta 1"] = {"tool": "reject_request"}
    server = fake_openai(answers)
    base = ["--model=m", f"--toolcall-base-url={server.base_url}", "-p", "no:randomly"]
    parallel = runpytest(
        pytester,
        *base,
        "--record-mode=once",
        "-n",
        "2",
        f"--dist={dist}",
        "--toolcall-report=p.json",
    )
    assert len(server.requests) == 12, dist  # once each, whichever worker needed them
    for name in ("alpha", "beta"):  # one writer per cassette: nothing lost or doubled
        saved = json.loads((pytester.path / "cassettes" / "m" / f"{name}.json").read_text())
        assert len(saved["interactions"]) == 6
    serial = runpytest(pytester, *base, "--toolcall-report=s.json")  # replayed
    assert len(server.requests) == 12

    def verdicts(name: str) -> list:
        report = json.loads((pytester.path / name).read_text())
        return sorted((c["file"], c["case"], c["outcome"]) for c in report["cases"])

    assert verdicts("p.json") == verdicts("s.json")
    assert sum(v[2] != "pass" for v in verdicts("s.json")) == 2
    if dist != "each":  # `each` runs every item on both workers, by its definition
        assert parallel.parseoutcomes() == serial.parseoutcomes()


def test_neither_import_nor_replay_loads_the_http_stack(pytester, fake_openai, drone_tools):
    check = (
        "import sys, pytest_toolcall.plugin; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'httpx', 'httpx2')))"
    )
    imported = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert imported.stdout.strip() == "[]", imported.stderr
    pytester.makefile(".yaml", suite=suite(3))
    server = fake_openai(script(3))
    record = ["--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once"]
    runpytest(pytester, *record).assert_outcomes(passed=4)
    pytester.makeconftest(
        """
        import sys

        def pytest_sessionfinish(session):
            loaded = [m for m in sys.modules if m.split('.')[0] in ('openai', 'httpx', 'httpx2')]
            open('loaded.txt', 'w').write(repr(sorted(loaded)))
        """
    )
    replay = pytester.runpytest_subprocess("--model=m", "-p", "no:recording", "-p", "no:anyio")
    replay.assert_outcomes(passed=4)
    assert (pytester.path / "loaded.txt").read_text() == "[]"


def test_the_main_threads_event_loop_is_left_alone(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=suite(2))
    pytester.makeconftest(
        """
        import asyncio

        LOOP = asyncio.new_event_loop()
        asyncio.set_event_loop(LOOP)
        """
    )
    pytester.makepyfile(
        test_later="""
        import asyncio
        import conftest

        def test_loop_is_still_set():
            assert asyncio.get_event_loop_policy().get_event_loop() is conftest.LOOP
        """
    )
    server = fake_openai(script(2))
    result = runpytest(pytester, *live(server), "suite.yaml", "test_later.py")
    result.assert_outcomes(passed=4)


def test_answers_are_taken_in_the_order_they_become_available() -> None:
    """Settled (replayed) answers first, then sent ones as they arrive, whatever the order
    they were asked in."""
    first, second = Future(), Future()
    answers = [first, Settled("replayed"), second, Settled("refused")]
    order = in_arrival_order(answers)
    assert [next(order).result(), next(order).result()] == ["replayed", "refused"]
    threading.Thread(target=lambda: (second.set_result("b"), first.set_result("a"))).start()
    arrived = [answered.result() for answered in order]
    assert sorted(arrived) == ["a", "b"] and len(arrived) == 2
    seen = []
    Settled("x").add_done_callback(lambda answered: seen.append(answered.result()))
    assert seen == ["x"]
