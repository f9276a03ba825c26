"""`--toolcall-batch`: recording through the Batch API, resumable, replayed like live.

Every count here is the fake server's (batches created, reads, lines answered, chat
requests); polls are counted, never timed (`--toolcall-batch-poll=0`).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import openai  # noqa: F401 - imported once here, not again by every inner run
import pytest
from helpers import QUIET, runpytest
from test_cassettes import NO_SOCKETS, answers, cassette, drone_suite, toolcall_section

from pytest_toolcall.send import batch_lines

KEY = "sk-test-batch-secret-0123456789abcdef"
HEADER_SECRET = "gateway-token-0123456789abcdef"
PENDING = Path("cassettes") / "m" / ".batches.json"


def interrupting_conftest(after_waits: int) -> str:
    """A conftest whose K-th pause between two polls is a Ctrl-C."""
    return f"""
from pytest_toolcall.send import batch_follow as batch

_original = batch.wait
waits = []

def pytest_configure(config):
    def wait(seconds):
        waits.append(seconds)
        if len(waits) >= {after_waits}:
            raise KeyboardInterrupt
    batch.wait = wait

def pytest_unconfigure(config):
    batch.wait = _original
"""


def limits_conftest(*, requests: int | None = None, size: int | None = None) -> str:
    return f"""
from pytest_toolcall.send import batch_lines

_original = batch_lines.MAX_BATCH_REQUESTS, batch_lines.MAX_BATCH_BYTES

def pytest_configure(config):
    if {requests!r} is not None:
        batch_lines.MAX_BATCH_REQUESTS = {requests!r}
    if {size!r} is not None:
        batch_lines.MAX_BATCH_BYTES = {size!r}

def pytest_unconfigure(config):
    batch_lines.MAX_BATCH_REQUESTS, batch_lines.MAX_BATCH_BYTES = _original
"""


def record(pytester: pytest.Pytester, server, *args: str, interrupted: bool = False):
    command = (
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--record-mode=once",
        "--toolcall-batch",
        "--toolcall-batch-poll=0",
        *args,
    )
    if interrupted:  # pytester re-raises a Ctrl-C unless told not to
        return pytester.runpytest(*QUIET, *command, no_reraise_ctrlc=True)
    return runpytest(pytester, *command)


def batch_sizes(server) -> list[int]:
    """Lines of each batch created, in order."""
    return [
        len(server.fine_tuning.files[b["input_file_id"]]["bytes"].splitlines())
        for b in server.batches.batches.values()
    ]


def interactions(pytester: pytest.Pytester) -> list[dict]:
    path = cassette(pytester)
    return json.loads(path.read_text())["interactions"] if path.exists() else []


def recorded_prompts(pytester: pytest.Pytester) -> list[str]:
    return [
        json.loads(i["request"]["body"])["messages"][-1]["content"] for i in interactions(pytester)
    ]


def verdicts(result: pytest.RunResult) -> list[str]:
    """The toolcall section without its p50 / p95 latency columns."""
    return [
        re.sub(r"(PASS|FAIL)\s+\S+\s+\S+\s+", r"\1  ", line)
        for line in toolcall_section(result.stdout.str())
    ]


def replay_offline(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makeconftest(NO_SOCKETS)
    return runpytest(pytester, "--model=m")


def test_a_suite_recorded_through_one_batch_replays_with_the_verdicts_of_a_live_recording(
    pytester, fake_openai, drone_tools
):
    pytester.makefile(".yaml", suite=drone_suite(12))
    script = answers(12, wrong={3, 7})
    live_server = fake_openai(script)
    runpytest(
        pytester, "--model=m", f"--toolcall-base-url={live_server.base_url}", "--record-mode=once"
    )
    assert len(live_server.requests) == 12
    live = replay_offline(pytester)
    live_cassette = interactions(pytester)
    cassette(pytester).unlink()
    pytester.makeconftest("")

    server = fake_openai(script)
    recorded = record(pytester, server)
    assert server.requests == []  # not one live chat request
    assert server.batches.creates() == 1
    assert server.batches.lines == 12
    assert server.batches.reads() == 3  # the fake completes a batch at its third read
    (created,) = server.batches.batches.values()
    assert created["endpoint"] == "/v1/chat/completions"
    assert created["completion_window"] == "24h"
    assert server.fine_tuning.files[created["input_file_id"]]["purpose"] == "batch"
    recorded.stdout.fnmatch_lines(
        [
            "*batch batch_fake1 submitted: 12 request(s) to /v1/chat/completions*",
            "*batch batch_fake1: in_progress*/12",
            "*batch batch_fake1: completed 12/12",
        ]
    )
    assert recorded.parseoutcomes() == {"passed": 11, "missed": 2}
    assert not (pytester.path / PENDING).exists()  # collected: nothing pending

    batch_cassette = interactions(pytester)
    assert [json.loads(i["request"]["body"]) for i in batch_cassette] == [
        json.loads(i["request"]["body"]) for i in live_cassette
    ]
    assert [i["response"]["status"]["code"] for i in batch_cassette] == [200] * 12
    replayed = replay_offline(pytester)
    assert replayed.parseoutcomes() == live.parseoutcomes() == {"passed": 11, "missed": 2}
    # the same table and misses; only latency differs (a batch line has none of its own)
    assert verdicts(replayed) == verdicts(live)
    assert verdicts(live)[3].split() == ["suite", "m", "10/12", "83%", ">=50%", "PASS", "1362"]


def test_ctrl_c_while_polling_then_a_rerun_elsewhere_collects_the_same_batch(
    pytester, fake_openai, drone_tools, tmp_path, monkeypatch
):
    pytester.makefile(".yaml", suite=drone_suite(6))
    server = fake_openai(answers(6))
    server.batches.polls = None  # in progress until the test says otherwise
    pytester.makeconftest(interrupting_conftest(after_waits=2))
    stopped = record(pytester, server, interrupted=True)
    assert stopped.ret == pytest.ExitCode.INTERRUPTED
    assert server.batches.creates() == 1 and server.batches.reads() == 2
    stopped.stdout.fnmatch_lines(["*batches still pending in *.batches.json: run again*"])
    pending = json.loads((pytester.path / PENDING).read_text())
    (batch,) = pending["batches"]
    assert batch["id"] == "batch_fake1"
    assert sorted(line["sample"] for line in batch["lines"].values()) == [0] * 6
    assert {line["cassette"] for line in batch["lines"].values()} == {"suite.json"}
    assert not cassette(pytester).exists()

    # another machine with the checkout (the pending file committed with it)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(pytester.path, elsewhere, ignore=shutil.ignore_patterns("conftest.py"))
    monkeypatch.chdir(elsewhere)
    server.batches.polls = 4  # its next read is the third: in progress; the fourth: done
    resumed = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--record-mode=once",
        "--toolcall-batch",
        "--toolcall-batch-poll=0",
        f"--rootdir={elsewhere}",
        str(elsewhere),
    )
    assert resumed.ret == 0
    assert server.batches.creates() == 1  # no second batch
    assert server.batches.reads() == 4
    assert server.requests == []
    resumed.stdout.fnmatch_lines(["*batch batch_fake1 resumed*6 request(s) of this run*"])
    data = json.loads((elsewhere / "cassettes" / "m" / "suite.json").read_text())
    assert len(data["interactions"]) == 6
    assert not (elsewhere / PENDING).exists()


@pytest.mark.parametrize("outcome", ["failed", "expired", "cancelled"])
def test_a_batch_that_ends_without_answers_is_reported_and_submitted_again_next_run(
    pytester, fake_openai, drone_tools, outcome
):
    pytester.makefile(".yaml", suite=drone_suite(5))
    server = fake_openai(answers(5))
    server.batches.outcome = outcome
    server.batches.answered_before_end = 2  # an expired / cancelled batch keeps what it did
    ended = record(pytester, server)
    partial = 0 if outcome == "failed" else 2
    assert ended.ret == pytest.ExitCode.TESTS_FAILED
    ended.stdout.fnmatch_lines(
        [
            f"*batch batch_fake1 {outcome}*: what it did not answer is submitted again*",
            f"*batch batch_fake1 {outcome}* without answering this request: it is submitted "
            "again on the next run*",
        ]
    )
    assert ended.parseoutcomes()["errors"] == 5 - partial
    assert len(interactions(pytester)) == partial  # what it did answer is recorded
    (kept,) = json.loads((pytester.path / PENDING).read_text())["batches"]
    assert kept["ended"].startswith(outcome) and len(kept["lines"]) == 5 - partial

    server.batches.outcome = "completed"
    again = record(pytester, server)
    assert again.ret == 0
    again.stdout.fnmatch_lines(
        [
            f"*batch batch_fake1 {outcome}* (an earlier run): its {5 - partial} request(s) of "
            "this run are submitted again*",
            f"*batch batch_fake* submitted: {5 - partial} request(s)*",
        ]
    )
    assert server.batches.creates() == 2
    assert batch_sizes(server) == [5, 5 - partial]  # what was recorded is not asked again
    assert recorded_prompts(pytester) == [f"move {i}" for i in range(5)]
    assert not (pytester.path / PENDING).exists()


def test_a_failed_line_is_an_error_outcome_and_never_recorded(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=drone_suite(6))
    script = answers(6)
    script["move 4"] = {"status": 500, "error": "the model fell over"}
    server = fake_openai(script)
    server.batches.fail_prompts = {"move 2"}
    result = record(pytester, server)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes() == {"passed": 5, "errors": 2}  # 4 cases and the gate
    result.stdout.fnmatch_lines(
        [
            "*c2*failed in batch batch_fake1: server_error: fake fail*",
            "*c4*HTTP 500 in batch batch_fake1: the model fell over*",
        ]
    )
    assert recorded_prompts(pytester) == ["move 0", "move 1", "move 3", "move 5"]
    assert not (pytester.path / PENDING).exists()  # a failed line was collected, as an error

    server.batches.fail_prompts = set()
    script["move 4"] = answers(6)["move 4"]
    server.script = script
    again = record(pytester, server)
    assert again.ret == 0
    assert batch_sizes(server) == [6, 2]  # exactly the two failed lines, asked again
    assert len(interactions(pytester)) == 6


def test_a_run_over_the_request_limit_is_split_into_several_batches(
    pytester, fake_openai, drone_tools
):
    pytester.makefile(".yaml", suite=drone_suite(10))
    pytester.makeconftest(limits_conftest(requests=4))
    server = fake_openai(answers(10))
    result = record(pytester, server, "--toolcall-repeat=1")
    assert result.ret == 0
    assert server.batches.creates() == 3
    assert batch_sizes(server) == [4, 4, 2]
    assert server.batches.lines == 10 and server.requests == []
    assert recorded_prompts(pytester) == [f"move {i}" for i in range(10)]


def test_split_by_bytes_keeps_the_order_and_every_line():
    lines = [(f"id{i}", b"x" * 10) for i in range(5)]
    original = batch_lines.MAX_BATCH_BYTES
    batch_lines.MAX_BATCH_BYTES = 25
    try:
        batches = batch_lines.split(lines)
    finally:
        batch_lines.MAX_BATCH_BYTES = original
    assert [[cid for cid, _ in batch] for batch in batches] == [
        ["id0", "id1"],
        ["id2", "id3"],
        ["id4"],
    ]


def test_a_line_over_the_byte_limit_is_not_sent_and_says_why(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=drone_suite(2))
    pytester.makeconftest(limits_conftest(size=100))
    server = fake_openai(answers(2))
    result = record(pytester, server)
    assert server.batches.creates() == 0 and server.requests == []
    result.stdout.fnmatch_lines(
        ["*c0*not sent: its batch line is * bytes, over the Batch API's 100*"]
    )


def test_repeated_samples_each_get_a_line_of_their_own(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=drone_suite(3))
    server = fake_openai(answers(3))
    assert record(pytester, server, "--toolcall-repeat=2").ret == 0
    assert batch_sizes(server) == [6]
    (created,) = server.batches.batches.values()
    lines = server.fine_tuning.files[created["input_file_id"]]["bytes"].decode().splitlines()
    ids = [json.loads(line)["custom_id"] for line in lines]
    assert len(set(ids)) == 6 and all(cid.endswith(("-0", "-1")) for cid in ids)
    facts = json.loads(cassette(pytester).read_text())["metadata"]["pytest_toolcall"]
    assert sorted(len(f["samples"]) for f in facts["interactions"].values()) == [2, 2, 2]
    assert replay_offline(pytester).parseoutcomes() == {"passed": 4}


def test_no_secret_reaches_the_pending_file_or_the_cassette(
    pytester, fake_openai, drone_tools, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    pytester.makeini(f"[pytest]\ntoolcall_headers =\n    X-Gateway-Token: {HEADER_SECRET}\n")
    pytester.makefile(".yaml", suite=drone_suite(3))
    server = fake_openai(answers(3))
    server.batches.polls = None
    pytester.makeconftest(interrupting_conftest(after_waits=1))
    assert record(pytester, server, interrupted=True).ret == pytest.ExitCode.INTERRUPTED
    sent = {k.lower(): v for k, v in server.batches.requests[0]["headers"].items()}
    assert sent["authorization"] == f"Bearer {KEY}" and sent["x-gateway-token"] == HEADER_SECRET
    pending = (pytester.path / PENDING).read_text()
    assert KEY not in pending and HEADER_SECRET not in pending

    pytester.makeconftest("")
    server.batches.polls = 1
    assert record(pytester, server).ret == 0
    text = cassette(pytester).read_text()
    assert len(interactions(pytester)) == 3
    assert KEY not in text and HEADER_SECRET not in text


def test_a_run_that_asks_part_of_a_pending_batch_leaves_the_rest_pending(
    pytester, fake_openai, drone_tools
):
    pytester.makefile(".yaml", suite=drone_suite(4))
    server = fake_openai(answers(4))
    server.batches.polls = None
    pytester.makeconftest(interrupting_conftest(after_waits=1))
    record(pytester, server, interrupted=True)
    pytester.makeconftest("")
    server.batches.polls = 2

    part = record(pytester, server, "-k", "c1 or c2")
    assert part.ret == 0 and server.batches.creates() == 1
    assert recorded_prompts(pytester) == ["move 1", "move 2"]
    (kept,) = json.loads((pytester.path / PENDING).read_text())["batches"]
    assert kept["id"] == "batch_fake1" and len(kept["lines"]) == 2

    rest = record(pytester, server)
    assert rest.ret == 0 and server.batches.creates() == 1  # the rest from the same batch
    assert recorded_prompts(pytester) == [f"move {i}" for i in range(4)]
    assert not (pytester.path / PENDING).exists()


def test_a_responses_suite_goes_to_a_responses_batch_and_replays(
    pytester, fake_openai, drone_tools
):
    suite = drone_suite(3).replace(
        "tool_choice: required\n", "tool_choice: required\napi: responses\n"
    )
    pytester.makefile(".yaml", suite=suite)
    server = fake_openai(answers(3, wrong={1}))
    result = record(pytester, server)
    assert result.parseoutcomes() == {"passed": 3, "missed": 1}
    (created,) = server.batches.batches.values()
    assert created["endpoint"] == "/v1/responses"
    assert {
        json.loads(i["request"]["body"]).get("input") is not None for i in interactions(pytester)
    } == {True}
    assert {i["request"]["uri"].endswith("/v1/responses") for i in interactions(pytester)} == {True}
    assert replay_offline(pytester).parseoutcomes() == {"passed": 3, "missed": 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--record-mode=none",), "*--toolcall-batch needs a record mode that records*"),
        (("--toolcall-live",), "*--toolcall-batch records answers into cassettes*--toolcall-live*"),
        (("--record-mode=once", "--toolcall-batch-poll=-1"), "*must be at least 0*"),
    ],
)
def test_batch_options_refused_where_they_cannot_work(pytester, drone_tools, args, message):
    pytester.makefile(".yaml", suite=drone_suite(1))
    result = runpytest(pytester, "--model=m", "--toolcall-batch", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_ini_batch_means_when_recording_a_replay_run_ignores_it(pytester, fake_openai, drone_tools):
    pytester.makeini("[pytest]\ntoolcall_batch = true\ntoolcall_batch_poll = 0\n")
    pytester.makefile(".yaml", suite=drone_suite(2))
    server = fake_openai(answers(2))
    recorded = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once"
    )
    assert recorded.ret == 0
    assert server.batches.creates() == 1 and server.requests == []
    assert replay_offline(pytester).parseoutcomes() == {"passed": 3}
