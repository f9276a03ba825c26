"""A scripted OpenAI-compatible server on 127.0.0.1, for testing the plugin's mechanics.

It is not a model: it answers each request from a script keyed by the last user message.
A `(model, prompt)` key scripts one model only. A script value is one answer, or a list
of answers given in turn (the last one repeats), so a test can make a request fail twice
and then succeed. Answer forms:

- ``{"tool": "land_drone", "args": {...}}`` / ``{"calls": [{"tool": ..., "args": ...}, ...]}``
- ``{"tool": "x", "arguments_raw": "not json"}``: arguments sent verbatim
- ``{"text": "hello"}``: a plain assistant message
- ``{"status": 503, "headers": {...}, "error": "message"}``: an error response
- ``{"raw": "..."}``: this body as is, HTTP 200; ``{"choices": []}``: no choices
- ``{"reset": True}``: close the connection without answering
- ``{"echo_headers": True, "status": 400}``: an error that echoes the request headers
- any answer may add ``"delay": seconds``

``POST /v1/responses`` (the Responses API) answers the same script, keyed by the last user
message of `input`, in that API's form: each call a `function_call` output item (its
`call_id` "call_<n>"), text a `message` item with an `output_text` part, usage as
input/output/total tokens. Its own forms: ``"reasoning": "..."`` puts a `reasoning` item
first; ``{"output": [...]}`` sends these output items as they are.

`respond=` computes answers instead: a function of the request body returning one of the
forms above. `hold(prompt)` makes answers to a prompt wait until the test sets the event
it returns: ordering and streaming are proven by what the test lets through, not by time.

Files and fine-tuning jobs (`fake.fine_tuning`, a `fake_finetuning.FineTuning`, handles
these paths; every other path is Chat Completions as above):

- ``POST /v1/files`` (multipart: `purpose`, `file`), ``GET /v1/files/{id}``: uploads are
  kept byte for byte in `fine_tuning.files`; a file is "uploaded" on the first read and
  "processed" from the second on
- ``POST /v1/fine_tuning/jobs``: one job (`fine_tuning.jobs`); `create_errors` is a list of
  ``(status, message[, headers[, code]])`` answered in turn first
- ``GET /v1/fine_tuning/jobs/{id}``: running until its `polls`-th read (default 3), then
  succeeded, or failed / cancelled when the suffix contains "fail" / "cancel" (or
  `outcome` says so); `polls=None` keeps it running; `retrieve_errors` answered first
- ``GET /v1/fine_tuning/jobs/{id}/events`` (`after`, `limit`): newest first, one per read
- every such request is recorded in `fine_tuning.requests` (method, path, body or form)

Batches (`fake.batches`, a `fake_batches.Batches`), on the uploads above (`purpose=batch`):

- ``POST /v1/batches``: checks the input file (each line's url is the batch's endpoint,
  custom_ids unique) and creates a batch, "validating"
- ``GET /v1/batches/{id}``: "in_progress" (counts growing) until its `polls`-th read
  (default 3; None: forever), then `outcome` ("completed"; or "failed", "expired",
  "cancelled", which answer only the first `answered_before_end` lines). Each line is
  answered like a live request to its url, from the same script (`batches.lines` counts
  them, `fake.requests` never sees them); a scripted `status` answer, or a prompt in
  `fail_prompts`, goes to the error file instead
- ``GET /v1/files/{id}/content``: a file's bytes (input, output or error file)
- every such request is recorded in `batches.requests` (method, path, headers)
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from fake_answers import completion, prompt_of, response
from fake_batches import Batches
from fake_finetuning import FineTuning

DEFAULT_ANSWER: dict[str, Any] = {"text": "I have no script for that."}
HOLD_LIMIT_S = 30.0  # a held answer never set free fails its request instead of hanging


class FakeOpenAI:
    """Context manager running the scripted server in a background thread."""

    running: set[FakeOpenAI] = set()  # every started, not yet stopped server

    def __init__(
        self,
        script: Mapping[str, Any] | None = None,
        *,
        latency_s: float = 0.0,
        default: Mapping[str, Any] = DEFAULT_ANSWER,
        model: str | None = None,
        respond: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
    ) -> None:
        self.script = dict(script or {})
        self.respond = respond
        self.holds: dict[str, threading.Event] = {}
        self.latency_s = latency_s
        self.default = default
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._turns: dict[str, int] = {}
        self._lock = threading.Lock()
        self.fine_tuning = FineTuning()
        self.batches = Batches(self)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        FakeOpenAI.running.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            FakeOpenAI.running.discard(self)

    def hold(self, prompt: str) -> threading.Event:
        """Answers to `prompt` wait until the returned event is set."""
        return self.holds.setdefault(prompt, threading.Event())

    def prompts(self) -> list[str]:
        """The last user message of every request received, in arrival order."""
        with self._lock:
            return [prompt_of(r["body"]) for r in self.requests]

    def next_answer(self, prompt: str, model: str = "") -> Mapping[str, Any]:
        """The scripted answer: a `(model, prompt)` key wins over a `prompt` key."""
        with self._lock:
            planned = self.script.get((model, prompt), self.script.get(prompt, self.default))
            if isinstance(planned, list):
                turn = self._turns.get(prompt, 0)
                self._turns[prompt] = turn + 1
                return planned[min(turn, len(planned) - 1)]
            return planned


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 drops connections under load
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout, a cancelled request) is not a server error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        if self.fake.batches.handles(self.path):
            self._send_bytes(*self.fake.batches.answer("GET", self.path, self.headers, b""))
            return
        if self.fake.fine_tuning.handles(self.path):
            self._send_json(*self.fake.fine_tuning.answer("GET", self.path, self.headers, b""))
            return
        self._send_json(200, {"object": "list", "data": [{"id": self.fake.model or "fake"}]})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        if self.fake.batches.handles(self.path):
            data = self.rfile.read(length)
            self._send_bytes(*self.fake.batches.answer("POST", self.path, self.headers, data))
            return
        if self.fake.fine_tuning.handles(self.path):
            data = self.rfile.read(length)
            self._send_json(*self.fake.fine_tuning.answer("POST", self.path, self.headers, data))
            return
        body = json.loads(self.rfile.read(length) or b"{}")
        with self.fake._lock:
            self.fake.requests.append(
                {"headers": dict(self.headers), "body": body, "path": urlsplit(self.path).path}
            )
        prompt = prompt_of(body)
        held = self.fake.holds.get(prompt)
        if held is not None and not held.wait(HOLD_LIMIT_S):
            self._send_json(503, {"error": {"message": f"held answer never released: {prompt}"}})
            return
        if self.fake.respond is not None:
            answer = self.fake.respond(body)
        else:
            answer = self.fake.next_answer(prompt, body.get("model", ""))
        with self.fake._lock:
            self.fake.in_flight += 1
            self.fake.max_in_flight = max(self.fake.max_in_flight, self.fake.in_flight)
        try:
            time.sleep(answer.get("delay", self.fake.latency_s))
        finally:
            with self.fake._lock:
                self.fake.in_flight -= 1
        if answer.get("reset"):
            # RST instead of FIN: the client sees a reset connection, not a clean close.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if answer.get("echo_headers"):
            message = "bad request; you sent: " + json.dumps(dict(self.headers))
            self._send_json(answer.get("status", 400), {"error": {"message": message}})
            return
        if "status" in answer:
            error = {"error": {"message": answer.get("error", "scripted error"), "type": "fake"}}
            self._send_json(answer["status"], error, answer.get("headers", {}))
            return
        if "raw" in answer:
            self._send_bytes(200, answer["raw"].encode(), {})
            return
        if urlsplit(self.path).path.endswith("/responses"):
            self._send_json(200, response(body, answer, self.fake.model))
            return
        self._send_json(200, completion(body, answer, self.fake.model))

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), headers or {})

    def _send_bytes(self, status: int, data: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
