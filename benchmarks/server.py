"""A loopback OpenAI-compatible server for benchmarks: fixed latency, one fixed kind of answer.

Stdlib asyncio only (one event loop, HTTP/1.1 keep-alive), so a thousand open connections
cost a few coroutines, not threads. ``POST /v1/chat/completions`` waits ``latency_ms`` and
answers ``control_drone_movement`` with the direction and distance found in the last user
message ("Move the drone forward 17 meters" -> ``{"direction": "forward", "distance": 17}``),
with usage tokens. ``GET /v1/models`` lists one model.

Standalone: ``python benchmarks/server.py --port 8000 --latency-ms 200``.
Imported: ``with BenchServer(latency_ms=200) as server: ... server.base_url ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import threading
from typing import Any

MOVE = re.compile(r"\b(forward|backward|left|right|up|down)\b\D*?(\d+)")
MAX_HEADER_BYTES = 65_536


class BenchServer:
    """The server on 127.0.0.1, in a background thread with its own event loop."""

    def __init__(self, *, latency_ms: float = 200.0, port: int = 0) -> None:
        self.latency_s = latency_ms / 1000
        self.port = port
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset_counters(self) -> None:
        """Zero the request and concurrency counters (between scenarios)."""
        self.requests = self.max_in_flight = self.connections = 0

    def __enter__(self) -> BenchServer:
        self._thread = threading.Thread(target=self._serve_in_thread, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def _serve_in_thread(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(self.start())
        self._ready.set()
        with contextlib.suppress(RuntimeError):
            self._loop.run_forever()

    async def start(self) -> asyncio.Server:
        """Listen on the current loop (backlog large enough for a burst of connections)."""
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=4096)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Serve one request; False when the connection is done."""
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEADER_BYTES:
            return False
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        path = target.split("?", 1)[0]
        if method == "POST" and path.endswith("/chat/completions"):
            status, payload = 200, await self._complete(body)
        elif method == "GET" and path.endswith("/models"):
            status, payload = 200, {"object": "list", "data": [{"id": "bench", "object": "model"}]}
        else:
            status, payload = 404, {"error": {"message": f"no route {method} {path}"}}
        data = json.dumps(payload).encode()
        writer.write(
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(data)}\r\n"
            f"connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n".encode()
            + data
        )
        await writer.drain()
        return keep_alive

    async def _complete(self, body: bytes) -> dict[str, Any]:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            request = json.loads(body)
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
        finally:
            self.in_flight -= 1
        return completion(request, prompt_tokens=len(body) // 4)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def completion(request: dict[str, Any], *, prompt_tokens: int) -> dict[str, Any]:
    """The Chat Completions answer to `request`: a drone move derived from its prompt."""
    prompt = next(
        (
            m["content"]
            for m in reversed(request.get("messages", []))
            if m.get("role") == "user" and isinstance(m.get("content"), str)
        ),
        "",
    )
    found = MOVE.search(prompt)
    direction, distance = (found[1], int(found[2])) if found else ("forward", 1)
    arguments = json.dumps({"direction": direction, "distance": distance})
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "bench"),
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_0",
                            "type": "function",
                            "function": {"name": "control_drone_movement", "arguments": arguments},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 12,
            "total_tokens": prompt_tokens + 12,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    args = parser.parse_args()

    async def serve() -> None:
        bench = BenchServer(latency_ms=args.latency_ms, port=args.port)
        server = await bench.start()
        print(f"serving {bench.base_url} (latency {args.latency_ms:g} ms); Ctrl-C stops")
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
