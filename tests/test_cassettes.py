"""Cassettes: record once, replay offline with sockets forbidden, never a stale answer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import runpytest

NO_SOCKETS = """
import socket
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    original = socket.socket.connect
    def refuse(*args, **kwargs):
        raise OSError("this test forbids socket.connect")
    socket.socket.connect = refuse
    try:
        return (yield)
    finally:
        socket.socket.connect = original
"""


def drone_suite(count: int, *, name: str = "suite") -> str:
    cases = "\n".join(
        f"  - id: c{i}\n    prompt: 'move {i}'\n"
        f"    expect: {{tool: control_drone_movement, args: {{direction: forward, distance: {i}}}}}"
        for i in range(count)
    )
    header = f"suite: {name}\ntools: tools.json\ntool_choice: required\nthreshold: 0.5\n"
    return f"{header}cases:\n{cases}\n"


def answers(count: int, wrong: set[int] = frozenset()) -> dict:
    return {
        f"move {i}": {
            "tool": "control_drone_movement",
            "args": {"direction": "backward" if i in wrong else "forward", "distance": i},
            "delay": 0.005 * (i % 7),
        }
        for i in range(count)
    }


def toolcall_section(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "- toolcall -" in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("==="))
    return lines[start:end]


def cassette(pytester: pytest.Pytester, model: str = "m", stem: str = "suite") -> Path:
    return pytester.path / "cassettes" / model / f"{stem}.json"


def test_record_then_replay_offline_gives_identical_results(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=drone_suite(50))
    server = fake_openai(answers(50, wrong={3, 17, 40}))
    recorded = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once"
    )
    assert recorded.ret == 0
    assert len(server.requests) == 50
    server.stop()
    pytester.makeconftest(NO_SOCKETS)
    replayed = runpytest(pytester, "--model=m")
    assert replayed.ret == 0
    assert toolcall_section(replayed.stdout.str()) == toolcall_section(recorded.stdout.str())
    replayed.stdout.fnmatch_lines(["*suite*m*47/50*94%*PASS*", "*c3*'move 3'", "*[[]wrong_args]"])
    assert replayed.parseoutcomes() == {"passed": 48, "missed": 3}
    data = json.loads(cassette(pytester).read_text())
    assert len(data["interactions"]) == 50
    # interactions are stored in case order, so re-recording gives a reviewable diff
    prompts = [
        json.loads(i["request"]["body"])["messages"][-1]["content"] for i in data["interactions"]
    ]
    assert prompts == [f"move {i}" for i in range(50)]
    facts = data["metadata"]["pytest_toolcall"]["interactions"].values()
    assert [fact["case"] for fact in facts] == [f"c{i}" for i in range(50)]


def test_cassette_is_a_vcrpy_cassette(pytester, fake_openai, drone_tools):
    from vcr.serialize import deserialize
    from vcr.serializers import jsonserializer

    pytester.makefile(".yaml", suite=drone_suite(3))
    server = fake_openai(answers(3))
    runpytest(pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once")
    requests, responses, _ = deserialize(cassette(pytester).read_text(), jsonserializer)
    assert [r.method for r in requests] == ["POST"] * 3
    assert all(r.uri.endswith("/v1/chat/completions") for r in requests)
    body = json.loads(responses[0]["body"]["string"])
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == (
        "control_drone_movement"
    )


def test_edited_prompt_and_new_model_never_replay_stale_answers(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=drone_suite(4))
    server = fake_openai(answers(4) | {"move one more": {"tool": "return_to_home"}})
    runpytest(pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once")
    text = (pytester.path / "suite.yaml").read_text().replace("'move 2'", "'move one more'")
    (pytester.path / "suite.yaml").write_text(text)
    pytester.makeconftest(NO_SOCKETS)

    edited = runpytest(pytester, "--model=m")
    assert edited.ret == 1
    edited.stdout.fnmatch_lines(
        [
            "*no recording for case c2 of suite suite, model m: record it with OPENAI_API_KEY "
            "set: pytest suite.yaml::c2 --model=m --record-mode=once*",
        ]
    )
    edited.assert_outcomes(passed=4, errors=1)  # 3 cases and the gate (3/3 judged)

    other_model = runpytest(pytester, "--model=other")
    other_model.assert_outcomes(errors=4, failed=1)
    assert other_model.stdout.str().count("no recording for case") >= 4

    pytester.makeconftest("")
    before = len(server.requests)
    again = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once"
    )
    assert len(server.requests) == before + 1  # only the edited case went out
    assert server.requests[-1]["body"]["messages"][-1]["content"] == "move one more"
    assert again.parseoutcomes() == {"passed": 4, "missed": 1}


def test_rewrite_drops_unused_and_new_episodes_adds_only_missing(
    pytester, fake_openai, drone_tools
):
    pytester.makefile(".yaml", suite=drone_suite(4))
    server = fake_openai(answers(6))
    base = f"--toolcall-base-url={server.base_url}"
    runpytest(pytester, "--model=m", base, "--record-mode=once")
    pytester.makefile(".yaml", suite=drone_suite(6))
    runpytest(pytester, "--model=m", base, "--record-mode=new_episodes")
    assert len(server.requests) == 6
    assert len(json.loads(cassette(pytester).read_text())["interactions"]) == 6

    pytester.makefile(".yaml", suite=drone_suite(2))
    runpytest(pytester, "--model=m", base, "--record-mode=rewrite")
    assert len(server.requests) == 8  # rewrite re-sends what runs
    data = json.loads(cassette(pytester).read_text())
    kept = [
        json.loads(i["request"]["body"])["messages"][-1]["content"] for i in data["interactions"]
    ]
    assert kept == ["move 0", "move 1"]

    runpytest(pytester, "--model=m", base, "--record-mode=all")
    assert len(server.requests) == 10
    assert len(json.loads(cassette(pytester).read_text())["interactions"]) == 2


def test_live_mode_reads_and_writes_no_cassette(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=drone_suite(2))
    server = fake_openai(answers(2))
    result = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live"
    )
    result.assert_outcomes(passed=3)
    assert not (pytester.path / "cassettes").exists()


def test_errors_and_server_failures_are_not_recorded(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=drone_suite(3))
    script = answers(3) | {
        "move 1": {"status": 503},
        "move 2": [{"status": 429, "headers": {"retry-after-ms": "10"}}, answers(3)["move 2"]],
    }
    server = fake_openai(script)
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--record-mode=once",
        "--toolcall-retries=1",
    )
    result.assert_outcomes(passed=3, errors=1)
    data = json.loads(cassette(pytester).read_text())
    statuses = [i["response"]["status"]["code"] for i in data["interactions"]]
    assert statuses == [200, 200]  # move 0 and move 2 (after its 429); never the 503


HEADERS = {
    "authorization": "Bearer sk-secret-response-0123456789",
    "api-key": "sk-secret-api-key-0123456789",
    "openai-organization": "org-secret",
    "openai-project": "proj-secret",
    "cookie": "session=secret",
    "set-cookie": "session=secret; Path=/",
    "user-agent": "secret-agent",
    "x-stainless-lang": "python",
    "x-internal-trace": "trace-secret",
}


def test_no_secret_header_reaches_a_cassette(pytester, fake_openai, drone_tools, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-key-0123456789abcdef")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-secret")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-secret")
    monkeypatch.setenv("AZURE_KEY", "azure-secret-0123456789")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Gateway-Token: gw-secret-0123456789")
    pytester.makeini(
        "[pytest]\ntoolcall_scrub_headers = x-internal-trace\n"
        "toolcall_headers =\n    api-key: $AZURE_KEY\n    Cookie: session=secret-cookie\n"
    )
    pytester.makefile(".yaml", suite=drone_suite(2))
    script = {prompt: {**answer, "headers": HEADERS} for prompt, answer in answers(2).items()}
    server = fake_openai(script)
    result = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once"
    )
    result.assert_outcomes(passed=3)
    sent = {name.lower(): value for name, value in server.requests[0]["headers"].items()}
    assert sent["authorization"] == "Bearer sk-secret-key-0123456789abcdef"  # really was sent
    assert any(name.lower().startswith("x-stainless") for name in sent)
    assert (
        sent["api-key"] == "azure-secret-0123456789" and sent["cookie"] == "session=secret-cookie"
    )
    assert "openai-organization" in sent and "openai-project" in sent and "user-agent" in sent
    assert sent["x-gateway-token"] == "gw-secret-0123456789"
    text = cassette(pytester).read_text()
    for secret in ("secret", "x-stainless", "sk-", "user-agent", "authorization", "api-key"):
        assert secret not in text.lower(), secret


def recording_command(base_url: str, *, concurrency: int) -> list[str]:
    """`pytest suite.yaml` recording what is missing, as a separate process."""
    return [
        *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "suite.yaml"),
        *("--model=m", f"--toolcall-base-url={base_url}", "--record-mode=once"),
        f"--toolcall-concurrency={concurrency}",
    ]


def test_interrupted_recording_keeps_every_finished_case(tmp_path, fake_openai, drone_tools):
    (tmp_path / "tools.json").write_text(drone_tools.read_text())
    (tmp_path / "suite.yaml").write_text(drone_suite(50))
    slow = {p: {**a, "delay": 0.3} for p, a in answers(50).items()}
    server = fake_openai(slow)
    process = subprocess.Popen(
        recording_command(server.base_url, concurrency=4),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # An xdist worker ignores SIGINT and a child inherits that: give Ctrl-C back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 30
    while len(server.requests) < 16 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=30)[0].decode()
    assert "KeyboardInterrupt" in output
    path = tmp_path / "cassettes" / "m" / "suite.json"
    data = json.loads(path.read_text())  # valid JSON: never half-written
    recorded = len(data["interactions"])
    answered = len(server.requests) - server.in_flight
    assert 8 <= recorded <= answered < 50
    assert not list(path.parent.glob("*.tmp"))
    # the next run replays what was kept and records only the rest
    resumed = subprocess.run(
        recording_command(server.base_url, concurrency=16),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stdout
    assert len(json.loads(path.read_text())["interactions"]) == 50


def test_shares_record_mode_with_pytest_recording(pytester, fake_openai, drone_tools):
    pytest.importorskip("pytest_recording")
    pytester.makefile(".yaml", suite=drone_suite(2))
    server = fake_openai(answers(2))
    shared = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once"
    )
    shared.assert_outcomes(passed=3)
    assert "recording" in shared.stdout.str().splitlines()[3]  # pytest-recording was loaded
    assert len(json.loads(cassette(pytester).read_text())["interactions"]) == 2
    # with pytest-recording disabled, the option is ours and means the same
    cassette(pytester).unlink()
    alone = runpytest(
        pytester,
        "-p",
        "no:recording",
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--record-mode=once",
    )
    alone.assert_outcomes(passed=3)
    assert "recording" not in alone.stdout.str().splitlines()[3]
    assert len(json.loads(cassette(pytester).read_text())["interactions"]) == 2


def test_model_answers_are_recorded_verbatim(pytester, fake_openai, drone_tools):
    # Header scrubbing must never touch what the model said, even when it looks like a header.
    pytester.makefile(".yaml", suite=drone_suite(1))
    text = "Set-Cookie: session=abc; User-Agent: drone"
    server = fake_openai({"move 0": {"text": text}})
    runpytest(pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--record-mode=once")
    interaction = json.loads(cassette(pytester).read_text())["interactions"][0]
    body = json.loads(interaction["response"]["body"]["string"])
    assert body["choices"][0]["message"]["content"] == text
    replayed = runpytest(pytester, "--model=m")
    replayed.stdout.fnmatch_lines(["*got      text 'Set-Cookie: session=abc; User-Agent: drone'*"])
