"""The floor: a bare asyncio + httpx2 client sending the same request bodies as the plugin.

``python benchmarks/floor.py BODIES.jsonl --base-url URL --concurrency 32`` posts every
body (one JSON object a line) to ``URL/chat/completions``, at most ``concurrency`` at a
time over keep-alive connections, parses each answer and prints one JSON line:
``{"requests": N, "tool_calls": N, "send_s": S}``. Exit status 1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import httpx2 as httpx  # the transport the openai SDK uses here


async def send_all(bodies: list[dict[str, Any]], base_url: str, concurrency: int) -> int:
    """POST every body; return how many answers carried a tool call."""
    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:

        async def one(body: dict[str, Any]) -> int:
            async with semaphore:
                response = await client.post("/chat/completions", json=body)
            response.raise_for_status()
            message = response.json()["choices"][0]["message"]
            return 1 if message.get("tool_calls") else 0

        return sum(await asyncio.gather(*(one(body) for body in bodies)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bodies", help="JSONL file of Chat Completions request bodies")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with open(args.bodies, encoding="utf-8") as stream:
        bodies = [json.loads(line) for line in stream if line.strip()]
    started = time.perf_counter()
    try:
        tool_calls = asyncio.run(send_all(bodies, args.base_url.rstrip("/"), args.concurrency))
    except httpx.HTTPError as exc:
        print(f"floor: request failed: {exc!r}", file=sys.stderr)
        sys.exit(1)
    send_s = time.perf_counter() - started
    print(json.dumps({"requests": len(bodies), "tool_calls": tool_calls, "send_s": send_s}))


if __name__ == "__main__":
    main()
