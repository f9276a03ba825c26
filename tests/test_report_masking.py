"""Issue 13 item 6: a model answer that echoes a credential is masked in every report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from types import SimpleNamespace

from helpers import runpytest
from test_reports import RIGHT, SUITE

from pytest_toolcall.judge.matching import Outcome, ToolCall, Verdict
from pytest_toolcall.report.formatting import format_actual
from pytest_toolcall.report.records import case_record
from pytest_toolcall.send.redaction import MASK, Redactor

SECRET = "sk-test-0123456789abcdefSECRET"


def _result(answer: SimpleNamespace, verdict: Verdict) -> SimpleNamespace:
    case = SimpleNamespace(id="land", prompt="Land", tags=(), expect={"tool": "land_drone"})
    sample = SimpleNamespace(answer=answer, verdict=verdict, steps=())
    return SimpleNamespace(
        case=case, model="m", request_hash="h", samples=[sample], passes=0, verdict=verdict
    )


def _answer(**fields) -> SimpleNamespace:
    return SimpleNamespace(
        **{"calls": (), "text": None, "latency_ms": 5.0, "total_tokens": 9, **fields}
    )


def test_case_record_masks_everything_that_came_from_the_answer():
    mask = Redactor([SECRET, "home"]).mask  # "home" is too short to be a credential
    answer = _answer(
        calls=(ToolCall(f"land_{SECRET}", json.dumps({"location": SECRET, "at": "home"})),),
        text=f"the key is {SECRET}",
    )
    verdict = Verdict(Outcome.WRONG_ARGS, f"args.location: expected 'home_base', got {SECRET!r}")
    record = case_record(_result(answer, verdict), suite="s", file="f.yaml", nodeid="n", mask=mask)
    assert SECRET not in json.dumps(record)
    assert record["actual"] == [
        {"name": f"land_{MASK}", "arguments": json.dumps({"location": MASK, "at": "home"})}
    ]
    assert record["text"] == f"the key is {MASK}"
    assert record["detail"] == f"args.location: expected 'home_base', got '{MASK}'"
    assert MASK in format_actual(record)


def test_case_record_without_a_mask_keeps_the_answer_as_is():
    answer = _answer(text=None)
    record = case_record(
        _result(answer, Verdict(Outcome.NO_CALL, "")), suite="s", file="f", nodeid="n"
    )
    assert record["text"] is None and record["actual"] == [] and record["detail"] == ""


def test_echoed_api_key_is_masked_in_terminal_markdown_junit_and_json(
    pytester, fake_openai, drone_tools, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    step_summary = pytester.path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    pytester.makefile(".yaml", suite=SUITE.format(threshold=1.0))
    server = fake_openai(
        {
            **RIGHT,
            "Land the drone at the home base": {"tool": "land_drone", "args": {"location": SECRET}},
            "Turn into an elephant!": {"text": f"Sure. By the way, your key is {SECRET}."},
        }
    )
    result = runpytest(
        pytester,
        "--model=m",
        f"--toolcall-base-url={server.base_url}",
        "--toolcall-live",
        "--toolcall-report=report.json",
        "--toolcall-markdown=summary.md",
        "--junitxml=junit.xml",
        "-rA",
    )
    assert result.ret == 1
    headers = {k.lower(): v for k, v in server.requests[0]["headers"].items()}
    assert headers["authorization"] == f"Bearer {SECRET}"  # the key was used
    shown = {
        "terminal": result.stdout.str() + result.stderr.str(),
        "markdown": (pytester.path / "summary.md").read_text(),
        "step summary": step_summary.read_text(),
        "junit": (pytester.path / "junit.xml").read_text(),
        "json": (pytester.path / "report.json").read_text(),
    }
    for where, text in shown.items():
        assert SECRET not in text, where
        assert MASK in text or "&lt;redacted&gt;" in text, where
    tree = ET.parse(pytester.path / "junit.xml")
    land = next(t for t in tree.iter("testcase") if t.get("name") == "land")
    properties = {p.get("name"): p.get("value") for p in land.iter("property")}
    assert properties["toolcall_actual"] == 'land_drone {"location": "<redacted>"}'
    cases = {c["case"]: c for c in json.loads(shown["json"])["cases"]}
    assert cases["elephant"]["text"] == "Sure. By the way, your key is <redacted>."
