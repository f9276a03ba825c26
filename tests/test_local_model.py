"""One case against a real local model, when one is running (see scripts/serve_local_model.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import runpytest

LOCAL_MODEL_URL = os.environ.get("TOOLCALL_LOCAL_MODEL_URL")
DRONE = Path(__file__).parent.parent / "cases" / "drone"


@pytest.mark.skipif(
    not LOCAL_MODEL_URL,
    reason="no local model: start scripts/serve_local_model.py and set "
    "TOOLCALL_LOCAL_MODEL_URL=http://127.0.0.1:8088/v1",
)
def test_land_home_against_the_local_model(pytester):
    for name in ("tools.json", "system_prompt.txt", "straightforward.yaml"):
        (pytester.path / name).write_text((DRONE / name).read_text())
    result = runpytest(
        pytester,
        f"--toolcall-base-url={LOCAL_MODEL_URL}",
        "--toolcall-live",
        "--toolcall-timeout=300",
        "--toolcall-report=report.json",
        "-k",
        "land-home",
    )
    report = json.loads((pytester.path / "report.json").read_text())
    (case,) = report["cases"]
    assert case["outcome"] != "error", case["detail"]
    assert case["actual"] and case["actual"][0]["name"] == "land_drone"
    assert json.loads(case["actual"][0]["arguments"]) == {"location": "home_base"}
    assert case["latency_ms"][0] > 0 and case["total_tokens"][0] > 1000
    assert result.ret == 0
