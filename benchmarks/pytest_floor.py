"""The least a pytest plugin can take to send a run's requests: pytest itself plus the floor.

Loaded with ``-p pytest_floor`` in a pytest process collecting as many trivial tests as
there are cases; when collection finishes it posts every body of ``--floor-bodies`` to
``--floor-url`` with ``floor.send_all`` (asyncio + httpx2, the same concurrency), then the
trivial tests run. Whatever a plugin does beyond this is its own cost: pytest's start-up,
collection and reporting are paid here too.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from floor import send_all


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--floor-bodies", help="JSONL file of request bodies to send")
    parser.addoption("--floor-url", help="base URL of the server")
    parser.addoption("--floor-concurrency", type=int, default=32)


def pytest_collection_finish(session: pytest.Session) -> None:
    options = session.config.option
    with open(options.floor_bodies, encoding="utf-8") as stream:
        bodies = [json.loads(line) for line in stream if line.strip()]
    sent = asyncio.run(send_all(bodies, options.floor_url, options.floor_concurrency))
    if sent != len(bodies):
        raise pytest.UsageError(f"pytest_floor: {len(bodies) - sent} answers had no tool call")
