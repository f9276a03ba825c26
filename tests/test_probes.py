"""Probes of ways a real setup could leak a secret or give a silently wrong verdict."""

from __future__ import annotations

from helpers import runpytest

SECRET = "sk-probe-0123456789abcdefSECRET"
EXPECT = "{tool: land_drone, args: {location: home_base}}"
SUITE = f"tools: tools.json\ncases:\n  - {{id: c0, prompt: land 0, expect: {EXPECT}}}\n"


def test_a_strict_miss_echoing_the_key_is_masked(pytester, fake_openai, drone_tools, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    pytester.makefile(".yaml", suite=SUITE)
    echo = {"tool": "land_drone", "args": {"location": SECRET}}
    server = fake_openai({"land 0": echo})
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-live",
        "--toolcall-strict",
    )
    result.assert_outcomes(failed=2)  # the miss (strict) and its gate
    output = result.stdout.str() + result.stderr.str()
    assert SECRET not in output
    assert "<redacted>" in output


def test_an_unparsable_answer_echoing_the_key_is_masked(
    pytester, fake_openai, drone_tools, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    pytester.makefile(".yaml", suite=SUITE)
    server = fake_openai({"land 0": {"raw": f"<html>bad gateway, key {SECRET}</html>"}})
    result = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live"
    )
    result.assert_outcomes(errors=1, failed=1)
    assert SECRET not in result.stdout.str() + result.stderr.str()


def test_the_record_hint_names_the_server_the_run_used(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=SUITE)
    server = fake_openai({})
    result = runpytest(pytester, "--model=m", f"--toolcall-base-url={server.base_url}")
    result.stdout.fnmatch_lines(
        [
            f"*no recording for case c0 of suite suite, model m: record it from "
            f"{server.base_url}: pytest suite.yaml::c0 --model=m "
            f"--toolcall-base-url={server.base_url} --record-mode=once*"
        ]
    )
    assert len(server.requests) == 0  # replay mode never opens a socket


def test_a_timeout_names_the_concurrency_as_the_likely_fix(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=SUITE)
    server = fake_openai({"land 0": {"tool": "land_drone", "delay": 2}})
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-live",
        "--toolcall-timeout=0.2",
        "--toolcall-retries=0",
    )
    result.stdout.fnmatch_lines(["*timed out after 0.2 s*--toolcall-concurrency (8)*"])


def test_an_http_library_error_escaping_the_sdk_is_a_retried_connection_error():
    # Seen in the full test run: in-process pytest sessions re-import httpcore2, so the
    # SDK's exception map no longer matches and a raw ConnectError escaped as "internal".
    import asyncio

    from pytest_toolcall.send.transport import Sender, SendSettings

    class ConnectError(Exception):
        __module__ = "httpcore2._exceptions"

    class Client:
        base_url = "http://127.0.0.1:9/v1/"
        posts = 0

        async def post(self, *args, **kwargs):
            Client.posts += 1
            raise ConnectError("All connection attempts failed")

    sender = Sender(SendSettings(base_url=Client.base_url, api_key=None, retries=1))
    sender._client = Client()  # the SDK client, as open() would have made it
    answer, exchange = asyncio.run(sender.send({}))
    assert Client.posts == 2  # retried as a connection error
    assert exchange is None
    assert answer.error.startswith("no answer after 2 attempts: could not connect to")
    assert "ConnectError: All connection attempts failed" in answer.error


def test_an_http_library_timeout_escaping_the_sdk_is_a_timeout():
    import asyncio

    from pytest_toolcall.send.transport import Sender, SendSettings

    class ReadTimeout(Exception):
        __module__ = "httpx2._exceptions"

    class Client:
        base_url = "http://127.0.0.1:9/v1/"

        async def post(self, *args, **kwargs):
            raise ReadTimeout("read timed out")

    sender = Sender(SendSettings(base_url=Client.base_url, api_key=None, retries=0))
    sender._client = Client()
    answer, _ = asyncio.run(sender.send({}))
    assert answer.error.startswith("no answer after 1 attempt: timed out after 60 s")
