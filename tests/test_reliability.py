"""Reliability: every fault ends in the right verdict, parallel runs agree, no secret leaks."""

from __future__ import annotations

import email.utils
import json
import random
import time

import pytest
from helpers import runpytest

GOOD = {"tool": "control_drone_movement", "args": {"direction": "up", "distance": 1}}
EXPECT = "{tool: control_drone_movement, args: {direction: up, distance: 1}}"


def http_date_in(seconds: float) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


# fault name -> (answers in turn, expected outcome, fragment of the detail or error)
FAULTS = {
    "429-retry-after-seconds": (
        [{"status": 429, "headers": {"Retry-After": "1"}}, GOOD],
        "pass",
        "",
    ),
    "429-retry-after-date": (
        [{"status": 429, "headers": {"Retry-After": "DATE"}}, GOOD],
        "pass",
        "",
    ),
    "500-then-answer": ([{"status": 500}, GOOD], "pass", ""),
    "502-then-answer": ([{"status": 502}, GOOD], "pass", ""),
    "503-then-answer": ([{"status": 503}, GOOD], "pass", ""),
    "reset-then-answer": ([{"reset": True}, GOOD], "pass", ""),
    "hang-then-answer": ([{**GOOD, "delay": 3}, GOOD], "pass", ""),
    "always-503": (
        [{"status": 503, "error": "overloaded"}],
        "error",
        "no answer after 3 attempts: HTTP 503",
    ),
    "always-reset": ([{"reset": True}], "error", "no answer after 3 attempts: could not connect"),
    "always-hang": ([{**GOOD, "delay": 3}], "error", "timed out after 0.5 s"),
    "invalid-json": ([{"raw": "{not json"}], "error", "the server's answer is not JSON"),
    "empty-choices": ([{"choices": []}], "error", "the server's answer has no choices"),
    "text-not-call": ([{"text": "Sure, flying up!"}], "no_call", ""),
    "arguments-not-json": (
        [{"tool": "control_drone_movement", "arguments_raw": "{direction: up"}],
        "invalid_args",
        "arguments are not JSON",
    ),
    "unknown-tool": ([{"tool": "fly_up", "args": {}}], "unknown_tool", "fly_up"),
    "400-with-message": (
        [{"status": 400, "error": "Invalid schema for function 'x'"}],
        "error",
        "HTTP 400 from http://127.0.0.1",
    ),
}


def test_every_fault_ends_with_its_outcome(pytester, fake_openai, drone_tools):
    cases = "".join(f"  - {{id: {name}, prompt: '{name}', expect: {EXPECT}}}\n" for name in FAULTS)
    pytester.makefile(".yaml", suite=f"tools: tools.json\nthreshold: 0\ncases:\n{cases}")
    script = {}
    for name, (answers, _, _) in FAULTS.items():
        script[name] = [
            {**a, "headers": {"Retry-After": http_date_in(1.5)}}
            if a.get("headers", {}).get("Retry-After") == "DATE"
            else a
            for a in answers
        ]
    server = fake_openai(script)
    started = time.monotonic()
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-live",
        "--toolcall-timeout=0.5",
        "--toolcall-retries=2",
        "--toolcall-concurrency=32",
        "--toolcall-report=report.json",
    )
    elapsed = time.monotonic() - started
    report = json.loads((pytester.path / "report.json").read_text())
    outcomes = {case["case"]: (case["outcome"], case["detail"]) for case in report["cases"]}
    for name, (_, outcome, fragment) in FAULTS.items():
        assert outcomes[name][0] == outcome, (name, outcomes[name])
        assert fragment in outcomes[name][1], (name, outcomes[name])
    # Retry-After was honoured: the date one waited about 1.5 s before its retry
    date_requests = [
        r for r in server.requests if r["body"]["messages"][-1]["content"] == "429-retry-after-date"
    ]
    assert len(date_requests) == 2
    assert elapsed > 1.0
    assert "Traceback" not in result.stdout.str()


def test_transient_faults_change_no_verdict(pytester, fake_openai, drone_tools):
    rng = random.Random(7)
    count = 200
    cases = "".join(
        f"  - {{id: c{i}, prompt: 'up {i}', expect: {{tool: control_drone_movement, "
        f"args: {{direction: up, distance: {i}}}}}}}\n"
        for i in range(count)
    )
    pytester.makefile(".yaml", suite=f"tools: tools.json\nthreshold: 0.5\ncases:\n{cases}")

    def answer(i: int) -> dict:
        direction = "down" if i % 9 == 0 else "up"  # some real misses
        return {"tool": "control_drone_movement", "args": {"direction": direction, "distance": i}}

    clean = {f"up {i}": answer(i) for i in range(count)}
    transient = [
        {"status": 503},
        {"status": 429, "headers": {"retry-after-ms": "50"}},
        {"reset": True},
        {"status": 502},
    ]
    faulty = {
        prompt: ([rng.choice(transient), value] if rng.random() < 0.2 else value)
        for prompt, value in clean.items()
    }
    faulted = sum(isinstance(v, list) for v in faulty.values())
    assert 25 <= faulted <= 60
    args = ["--model=m", "--toolcall-live", "--toolcall-concurrency=32", "--toolcall-retries=3"]
    reference = fake_openai(clean)
    runpytest(
        pytester, *args, f"--toolcall-base-url={reference.base_url}", "--toolcall-report=clean.json"
    )
    flaky = fake_openai(faulty)
    runpytest(
        pytester, *args, f"--toolcall-base-url={flaky.base_url}", "--toolcall-report=faulty.json"
    )
    assert len(flaky.requests) == count + faulted

    def verdicts(name: str) -> list[tuple[str, str, str]]:
        report = json.loads((pytester.path / name).read_text())
        return sorted((c["case"], c["outcome"], c["detail"]) for c in report["cases"])

    clean_verdicts, faulty_verdicts = verdicts("clean.json"), verdicts("faulty.json")
    assert len(faulty_verdicts) == count  # none lost, none counted twice
    assert faulty_verdicts == clean_verdicts
    assert sum(v[1] != "pass" for v in clean_verdicts) == 23


def test_parallel_run_matches_serial(pytester, fake_openai, drone_tools):
    pytest.importorskip("xdist")
    for n in range(4):
        cases = "".join(
            f"  - {{id: c{i}, prompt: 'up {n}-{i}', expect: {EXPECT}}}\n" for i in range(6)
        )
        pytester.makefile(
            ".yaml", **{f"suite{n}": f"tools: tools.json\nthreshold: 0.8\ncases:\n{cases}"}
        )
    script = {
        f"up {n}-{i}": (GOOD if (n + i) % 4 else {"tool": "reject_request"})
        for n in range(4)
        for i in range(6)
    }
    server = fake_openai(script)
    base = [
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--record-mode=once",
        "-p",
        "no:randomly",
    ]
    serial = runpytest(pytester, *base, "--toolcall-report=serial.json", "-v")
    parallel = runpytest(pytester, *base, "-n", "2", "--toolcall-report=parallel.json", "-v")
    assert len(server.requests) == 24  # the parallel run replayed what the serial one recorded
    assert serial.ret == parallel.ret == 1
    assert serial.parseoutcomes() == parallel.parseoutcomes()

    def load(name: str) -> tuple[list, list]:
        report = json.loads((pytester.path / name).read_text())
        cases = sorted((c["nodeid"], c["outcome"], c["detail"]) for c in report["cases"])
        suites = sorted(
            (s["suite"], s["passes"], s["judged"], s["gate"]["passed"]) for s in report["suites"]
        )
        return cases, suites

    assert load("serial.json") == load("parallel.json")
    # each file ran whole on one worker
    workers: dict[str, set[str]] = {}
    for line in parallel.stdout.lines:
        if line.startswith("[gw") and "suite" in line:
            worker, nodeid = line.split("]", 1)[0][1:], line.split()[-1]
            workers.setdefault(nodeid.split("::")[0], set()).add(worker)
    assert workers and all(len(w) == 1 for w in workers.values()), workers


SECRETS = ("sk-test-secret-key-0123456789abcdef", "org-secret-id", "proj-secret-id")


def test_no_secret_reaches_any_output(pytester, fake_openai, drone_tools, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRETS[0])
    monkeypatch.setenv("OPENAI_ORG_ID", SECRETS[1])
    monkeypatch.setenv("OPENAI_PROJECT_ID", SECRETS[2])
    cases = (
        f"  - {{id: echo, prompt: echo, expect: {EXPECT}}}\n"
        f"  - {{id: echo-500, prompt: echo500, expect: {EXPECT}}}\n"
        f"  - {{id: fine, prompt: fine, expect: {EXPECT}}}\n"
    )
    pytester.makefile(".yaml", suite=f"tools: tools.json\ncases:\n{cases}")
    server = fake_openai(
        {
            "echo": {"echo_headers": True, "status": 400},
            "echo500": {"echo_headers": True, "status": 500},
            "fine": GOOD,
        }
    )
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--record-mode=once",
        "--toolcall-retries=0",
        "--toolcall-report=report.json",
        "--toolcall-markdown=summary.md",
        "--junitxml=junit.xml",
        "-rA",
    )
    sent = {k.lower(): v for k, v in server.requests[0]["headers"].items()}
    assert sent["authorization"] == f"Bearer {SECRETS[0]}"  # the server really saw them
    assert sent["openai-organization"] == SECRETS[1]
    output = result.stdout.str() + result.stderr.str()
    assert "bad request; you sent:" in output  # the echo itself is shown, redacted
    files = ["report.json", "summary.md", "junit.xml", "cassettes/m/suite.json"]
    texts = [output, *((pytester.path / name).read_text() for name in files)]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
        assert 'x-stainless-lang": "python' not in text.lower()
