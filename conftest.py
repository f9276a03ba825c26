"""Fixtures for the project's own tests (not part of the plugin)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema  # noqa: F401 - see below
import pytest

# The plugin imports jsonschema only when a check needs it. In-process pytester sessions
# drop the modules they imported when they end; imported here, jsonschema is imported once
# for the whole test run, as it is in a user's run.

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from fakeserver import FakeOpenAI  # noqa: E402

DRONE_TOOLS = Path(__file__).parent / "tests" / "data" / "drone_tools.json"


@pytest.fixture
def fake_openai() -> Iterator[Callable[..., FakeOpenAI]]:
    """Start scripted OpenAI-compatible servers on 127.0.0.1; all are stopped after the test."""
    servers: list[FakeOpenAI] = []

    def start(script: dict[str, Any] | None = None, **options: Any) -> FakeOpenAI:
        server = FakeOpenAI(script, **options).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(autouse=True)
def no_server_left_running() -> Iterator[None]:
    """Every test that starts a server stops it."""
    yield
    assert not FakeOpenAI.running, f"servers left running: {FakeOpenAI.running}"


@pytest.fixture
def drone_tools(pytester: pytest.Pytester) -> Path:
    """The cookbook's 16 drone tools, copied next to the test's case files."""
    target = pytester.path / "tools.json"
    target.write_text(DRONE_TOOLS.read_text())
    return target
