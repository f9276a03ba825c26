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
