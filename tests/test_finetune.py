"""`pytest-toolcall finetune`: checked lines uploaded, one job, followed to its model id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fakeserver import FakeOpenAI

from pytest_toolcall.datagen import finetune as finetune_module
from pytest_toolcall.datagen import finetune_poll
from pytest_toolcall.datagen.cli import main

DRONE_TOOLS = Path(__file__).parent / "data" / "drone_tools.json"
KEY = "sk-test-finetune-secret-0123456789"
CASES = """\
suite: s
system: You control a drone.
tools: tools.json
tool_choice: required
cases:
"""
LANDINGS = ("home_base", "current", "custom")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Case files and an exported train.jsonl (12 lines) / train.val.jsonl (3 lines)."""
    (tmp_path / "tools.json").write_text(DRONE_TOOLS.read_text())
    cases = [
        f"- id: land-{where}-{n}\n  prompt: Land at {where}, take {n}\n"
        f"  expect: {{tool: land_drone, args: {{location: {where}}}}}\n"
        for where in LANDINGS
        for n in range(5)
    ]
    (tmp_path / "s.yaml").write_text(CASES + textwrap.indent("".join(cases), "  "))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert main(["export", "s.yaml", "--out", "train.jsonl", "--val-split", "0.2"]) == 0
    return tmp_path


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait of the command, in order; none of them waits."""
    waited: list[float] = []
    monkeypatch.setattr(finetune_poll, "sleep", waited.append)
    return waited


def lines(path: str) -> list[str]:
    return Path(path).read_text().splitlines()


def finetune(server: FakeOpenAI, *args: str) -> int:
    return main(["finetune", *args, "--base-url", server.base_url])


def job_reads(server: FakeOpenAI, job_id: str) -> int:
    path = f"/v1/fine_tuning/jobs/{job_id}"
    return sum(1 for r in server.fine_tuning.requests if r["path"] == path)


def only_job(server: FakeOpenAI) -> dict:
    assert server.fine_tuning.creates() == 1
    (job,) = server.fine_tuning.jobs.values()
    return job


def test_export_then_finetune_uploads_the_exported_lines_and_prints_the_model_last(
    workdir, fake_openai, sleeps, capsys
):
    server = fake_openai()
    command = ("train.jsonl", "--val", "train.val.jsonl", "--model", "gpt-4o-mini")
    assert finetune(server, *command, "--suffix", "drone", "--seed", "7", "--epochs", "3") == 0
    train, val = lines("train.jsonl"), lines("train.val.jsonl")
    assert (len(train), len(val)) == (12, 3)
    assert server.fine_tuning.uploaded_lines() == train + val  # counted at the server
    uploads = list(server.fine_tuning.files.values())
    assert [u["bytes"].decode().splitlines() for u in uploads] == [train, val]
    assert [u["purpose"] for u in uploads] == ["fine-tune", "fine-tune"]
    assert [u["filename"] for u in uploads] == ["train.jsonl", "train.val.jsonl"]
    job = only_job(server)
    train_id, val_id = server.fine_tuning.files
    assert job["_request"] == {
        "model": "gpt-4o-mini",
        "training_file": train_id,
        "validation_file": val_id,
        "suffix": "drone",
        "seed": 7,
        "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
    }
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == job["fine_tuned_model"]
    assert job["fine_tuned_model"].startswith("ft:gpt-4o-mini:fake-org:drone:")
    assert f"created fine-tuning job {job['id']} (gpt-4o-mini)" in err
    assert f"resume with: pytest-toolcall finetune --job {job['id']}" in err
    assert "status running" in err and "status succeeded" in err
    assert "uploaded train.jsonl (12 lines)" in err
    assert "warning" not in err


def test_each_event_is_printed_once_oldest_first(workdir, fake_openai, sleeps, capsys):
    server = fake_openai()
    server.fine_tuning.polls = 5
    assert finetune(server, "train.jsonl", "--model", "m") == 0
    err = capsys.readouterr().err
    events = [event["message"] for event in only_job(server)["_events"]]
    assert len(events) == 6  # created, four steps, the model
    shown = [line.split(": ", 1)[1] for line in err.splitlines() if line.startswith("ftjob-")]
    assert [text for text in shown if not text.startswith("status ")] == events
    assert shown.count("status running") == 1  # a status is printed when it changes


def test_one_poll_every_interval_until_the_job_ends(workdir, fake_openai, sleeps):
    server = fake_openai()
    server.fine_tuning.polls = 4
    assert finetune(server, "train.jsonl", "--model", "m") == 0
    job = only_job(server)
    assert job_reads(server, job["id"]) == 4
    assert sleeps == [2.0, 30.0, 30.0, 30.0]  # the file processed, then three default polls
    sleeps.clear()
    assert finetune(server, "--job", job["id"], "--poll", "5") == 0  # an ended job: one read
    assert sleeps == []


def test_poll_zero_in_a_real_process(workdir, fake_openai):
    server = fake_openai()
    server.fine_tuning.polls = 3
    result = run_cli(server, "train.jsonl", "--model", "m", "--poll", "0")
    assert result.returncode == 0, result.stderr
    job = only_job(server)
    assert result.stdout.splitlines()[-1] == job["fine_tuned_model"]
    assert job_reads(server, job["id"]) == 3


@pytest.mark.parametrize(
    ("suffix", "ending"), [("will-fail", "failed: Bad data"), ("cancel", "was cancelled")]
)
def test_a_failed_or_cancelled_job_exits_1_naming_it(
    workdir, fake_openai, sleeps, capsys, suffix, ending
):
    server = fake_openai()
    assert finetune(server, "train.jsonl", "--model", "m", "--suffix", suffix) == 1
    job = only_job(server)
    out, err = capsys.readouterr()
    assert out == ""
    last = err.splitlines()[-1]
    assert last.startswith(f"pytest-toolcall: error: fine-tuning job {job['id']} {ending}")
    if suffix == "will-fail":
        assert last.endswith("(invalid_training_file)")
        assert f"{job['id']}: error: Job failed: Bad data" in err  # the error event


def test_an_api_validation_error_on_create_exits_1_and_is_not_asked_again(
    workdir, fake_openai, sleeps, capsys
):
    server = fake_openai()
    server.fine_tuning.create_errors = [(400, f"invalid model 'nope' for key {KEY}")]
    assert finetune(server, "train.jsonl", "--model", "nope") == 1
    assert server.fine_tuning.creates() == 1 and not server.fine_tuning.jobs
    out, err = capsys.readouterr()
    (train_id,) = server.fine_tuning.files
    assert err.splitlines()[-1] == (
        "pytest-toolcall: error: the API refused the fine-tuning job: 400 invalid model 'nope'"
        f" for key <redacted> (no job created; uploaded {train_id})"
    )
    assert KEY not in out + err


def test_a_rate_limited_create_is_asked_again_a_quota_error_is_not(
    workdir, fake_openai, sleeps, capsys
):
    server = fake_openai()
    server.fine_tuning.create_errors = [(429, "slow down", {"retry-after": "7"})] * 2
    assert finetune(server, "train.jsonl", "--model", "m") == 0
    assert server.fine_tuning.creates() == 3 and len(server.fine_tuning.jobs) == 1
    assert sleeps[1:3] == [7.0, 7.0]  # after the file's wait, as the server asked
    server.fine_tuning.create_errors = [(429, "out of quota", {}, "insufficient_quota")] * 5
    assert finetune(server, "train.jsonl", "--model", "m") == 1
    assert server.fine_tuning.creates() == 3 + 1
    server.fine_tuning.create_errors = [(429, "slow down", {"retry-after": "0"})] * 5
    assert finetune(server, "train.jsonl", "--model", "m") == 1
    assert server.fine_tuning.creates() == 3 + 1 + 4  # asked 1 + 3 times, then given up
    err = capsys.readouterr().err.splitlines()
    assert "the API refused the fine-tuning job: 429 out of quota (insufficient_quota)" in err[-6]
    assert err[-1].startswith("pytest-toolcall: error: the API refused the fine-tuning job: 429")


def test_a_create_with_no_answer_is_not_asked_again(workdir, fake_openai, sleeps, capsys):
    server = fake_openai()
    server.fine_tuning.create_errors = [(503, "overloaded")] * 3
    assert finetune(server, "train.jsonl", "--model", "m") == 1
    assert server.fine_tuning.creates() == 1  # a 5xx may have made the job: never two jobs
    assert "a job may have been created anyway" in capsys.readouterr().err


def test_a_broken_line_is_refused_before_anything_is_sent(workdir, fake_openai, capsys):
    server = fake_openai()
    train = lines("train.jsonl")
    broken = json.loads(train[3])
    broken["messages"][-1]["tool_calls"][0]["function"]["arguments"] = '{"location": "moon"}'
    train[3] = json.dumps(broken)
    train[7] = train[7][:-1]
    Path("hand.jsonl").write_text("\n".join(train) + "\n\n")
    val = lines("train.val.jsonl")
    Path("v.jsonl").write_text("\n".join(["[1, 2]", *val]) + "\n")
    assert finetune(server, "hand.jsonl", "--val", "v.jsonl", "--model", "m") == 1
    assert server.fine_tuning.requests == [] and server.requests == []
    err = capsys.readouterr().err
    assert err.startswith("pytest-toolcall: 4 lines failed the check; nothing uploaded:\n")
    assert "hand.jsonl:4: invalid_args: land_drone args.location" in err and "moon" in err
    assert "hand.jsonl:8: not JSON" in err
    assert "hand.jsonl:13: a blank line" in err
    assert "v.jsonl:1: not a JSON object" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["empty.jsonl", "--model", "m"], "TRAIN empty.jsonl has no lines"),
        (["train.jsonl", "--val", "empty.jsonl", "--model", "m"], "--val empty.jsonl has no"),
        (["train.jsonl", "--val", "./train.jsonl", "--model", "m"], "is the training file"),
        (["nope.jsonl", "--model", "m"], "TRAIN nope.jsonl: No such file"),
        (["train.jsonl"], "a training file and --model are needed (or --job ID)"),
        (["train.jsonl", "--model", "m", "--suffix", "a:b"], "--suffix 'a:b': 1 to 64"),
        (["train.jsonl", "--model", "m", "--suffix", "x" * 65], "1 to 64 letters"),
        (["--job", "ftjob-1", "--model", "m"], "--job resumes a job and takes no --model"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_sent(workdir, fake_openai, capsys, args, message):
    server = fake_openai()
    Path("empty.jsonl").write_text("\n")
    assert finetune(server, *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pytest-toolcall: error: "), err
    assert message in err
    assert server.fine_tuning.requests == []


def test_no_key_and_no_base_url(workdir, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(["finetune", "train.jsonl", "--model", "m"]) == 2
    assert "neither OPENAI_API_KEY nor --base-url" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-1", "soon"])
def test_bad_poll_interval(value, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["finetune", "t.jsonl", "--model", "m", "--poll", value])
    assert exited.value.code == 2
    assert "--poll" in capsys.readouterr().err


def test_a_small_training_file_is_sent_with_a_warning(workdir, fake_openai, sleeps, capsys):
    server = fake_openai()
    Path("small.jsonl").write_text("\n".join(lines("train.jsonl")[:3]) + "\n")
    val = lines("train.val.jsonl")
    Path("v.jsonl").write_text("\n".join([lines("train.jsonl")[0], *val]) + "\n")
    assert finetune(server, "small.jsonl", "--val", "v.jsonl", "--model", "m") == 0
    err = capsys.readouterr().err
    assert "warning: small.jsonl has 3 examples; OpenAI's fine-tuning needs at least 10" in err
    assert "warning: 1 example(s) are in both small.jsonl and v.jsonl" in err


def test_resuming_an_unknown_job_names_it(fake_openai, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server = fake_openai()
    assert finetune(server, "--job", "ftjob-nope", "--poll", "0") == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "pytest-toolcall: error: fine-tuning job ftjob-nope: 404 Could not find fine tune:"
        " ftjob-nope"
    )
    assert server.fine_tuning.creates() == 0


@pytest.fixture
def no_sdk_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own retries (with their real backoff) off: each poll is one request."""
    make_client = finetune_module.make_client
    monkeypatch.setattr(
        finetune_module, "make_client", lambda o: make_client(o).with_options(max_retries=0)
    )


def test_a_poll_without_an_answer_is_reported_and_polling_goes_on(
    workdir, fake_openai, sleeps, capsys, no_sdk_retries
):
    server = fake_openai()
    server.fine_tuning.retrieve_errors = [(503, "overloaded")] * 2
    assert finetune(server, "train.jsonl", "--model", "m") == 0
    job = only_job(server)
    assert job_reads(server, job["id"]) == 2 + 3
    assert sleeps == [2.0] + [30.0] * 4
    err = capsys.readouterr().err
    assert err.count(f"{job['id']}: no answer this poll (503 overloaded); trying again") == 2


def test_polls_without_an_answer_give_up_with_the_resume_command(
    fake_openai, sleeps, capsys, monkeypatch, no_sdk_retries
):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setattr(finetune_poll, "MAX_MISSED_POLLS", 3)
    server = fake_openai()
    server.fine_tuning.retrieve_errors = [(502, "bad gateway")] * 3
    assert finetune(server, "--job", "ftjob-1") == 1
    assert job_reads(server, "ftjob-1") == 3 and sleeps == [30.0, 30.0]
    assert capsys.readouterr().err.splitlines()[-1] == (
        "pytest-toolcall: error: fine-tuning job ftjob-1: no answer in 3 polls in a row"
        " (502 bad gateway); it may still be running: resume with: pytest-toolcall"
        " finetune --job ftjob-1"
    )


def run_cli(server: FakeOpenAI, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_toolcall.datagen.cli", "finetune", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url},
    )


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_ctrl_c_leaves_the_job_running_and_job_id_resumes_it_without_a_second_job(
    workdir, fake_openai
):
    server = fake_openai()
    server.fine_tuning.polls = None  # runs until the test lets it finish
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_toolcall.datagen.cli", "finetune", "train.jsonl"]
        + ["--model", "m", "--poll", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url},
        # An xdist worker ignores SIGINT and a child inherits that: give Ctrl-C back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for(lambda: bool(server.fine_tuning.jobs))
    job_id = next(iter(server.fine_tuning.jobs))
    wait_for(lambda: job_reads(server, job_id) >= 3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert out == "" and "Traceback" not in err
    assert err.splitlines()[-1] == (
        f"pytest-toolcall: interrupted; fine-tuning job {job_id} goes on (it is not cancelled);"
        f" resume with: pytest-toolcall finetune --job {job_id}"
    )
    assert not [r for r in server.fine_tuning.requests if r["path"].endswith("/cancel")]
    assert server.fine_tuning.jobs[job_id]["status"] == "running"
    server.fine_tuning.polls = job_reads(server, job_id) + 2  # ends two reads from now
    resumed = run_cli(server, "--job", job_id, "--poll", "0")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1] == server.fine_tuning.jobs[job_id]["fine_tuned_model"]
    assert server.fine_tuning.creates() == 1 and len(server.fine_tuning.files) == 1
    for text in (out, err, resumed.stdout, resumed.stderr):
        assert KEY not in text


def test_help_names_the_command_and_its_options(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "finetune" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["finetune", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for word in ("--val FILE", "--model BASE", "--suffix S", "--epochs N", "--poll SECONDS"):
        assert word in out
    assert "--job ID" in out and "example:" in out
