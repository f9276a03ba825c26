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

Files and fine-tuning jobs (`fake.fine_tuning`, a `_FineTuning`, handles these paths; every
other path is Chat Completions as above):

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

Batches (`fake.batches`, a `_Batches`), on the uploads above (`purpose=batch`):

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

import email.parser
import email.policy
import itertools
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
        self.fine_tuning = _FineTuning()
        self.batches = _Batches(self)
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
            return [_prompt(r["body"]) for r in self.requests]

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
        prompt = _prompt(body)
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
            self._send_json(200, _response(body, answer, self.fake.model))
            return
        self._send_json(200, _completion(body, answer, self.fake.model))

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


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


def _completion(body: Mapping[str, Any], answer: Mapping[str, Any], model: str | None) -> Any:
    if "choices" in answer:
        return {"id": "fake", "object": "chat.completion", "choices": answer["choices"]}
    calls = answer.get("calls") or ([answer] if "tool" in answer else [])
    tool_calls = [
        {
            "id": f"call_{index}",
            "type": "function",
            "function": {
                "name": call["tool"],
                "arguments": call.get("arguments_raw", json.dumps(call.get("args", {}))),
            },
        }
        for index, call in enumerate(calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": answer.get("text")}
    if tool_calls:
        message["tool_calls"] = tool_calls
    prompt_tokens = len(json.dumps(body)) // 4
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model or body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 10,
            "total_tokens": prompt_tokens + 10,
        },
    }


# ---- Responses API ------------------------------------------------------------------------


def _prompt(body: Mapping[str, Any]) -> str:
    """The last user text of a Chat body's `messages` or a Responses body's `input`."""
    if "input" not in body:
        return _last_user_text(body.get("messages", []))
    items = body["input"]
    if isinstance(items, str):
        return items
    for item in reversed(items):
        if item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        texts = [part.get("text", "") for part in content or () if part.get("type") == "input_text"]
        return "".join(texts)
    return ""


def _response(body: Mapping[str, Any], answer: Mapping[str, Any], model: str | None) -> Any:
    """A Responses API answer (`object: response`) for a scripted answer."""
    if "output" in answer:
        output = list(answer["output"])
    else:
        output = []
        if "reasoning" in answer:
            summary = [{"type": "summary_text", "text": answer["reasoning"]}]
            output.append({"type": "reasoning", "id": "rs_fake", "summary": summary})
        if answer.get("text") is not None:
            part = {"type": "output_text", "text": answer["text"], "annotations": []}
            output.append(
                {
                    "type": "message",
                    "id": "msg_fake",
                    "role": "assistant",
                    "status": "completed",
                    "content": [part],
                }
            )
        for index, call in enumerate(answer.get("calls") or ([answer] if "tool" in answer else [])):
            output.append(
                {
                    "type": "function_call",
                    "id": f"fc_{index}",
                    "call_id": f"call_{index}",
                    "name": call["tool"],
                    "arguments": call.get("arguments_raw", json.dumps(call.get("args", {}))),
                    "status": "completed",
                }
            )
    input_tokens = len(json.dumps(body)) // 4
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "error": None,
        "model": model or body.get("model", "fake"),
        "output": output,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": 10,
            "total_tokens": input_tokens + 10,
        },
    }


# ---- Files and fine-tuning jobs ---------------------------------------------------------


class _FineTuning:
    """The Files and fine-tuning jobs API of the fake: uploads kept, jobs that finish after
    a number of reads. Answers are `(status, payload, headers)`."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}  # id -> {filename, purpose, bytes, reads}
        self.jobs: dict[str, dict[str, Any]] = {}  # id -> the job's JSON (plus bookkeeping)
        self.requests: list[dict[str, Any]] = []  # {method, path, body}
        self.create_errors: list[tuple[Any, ...]] = []
        self.retrieve_errors: list[tuple[Any, ...]] = []
        self.polls: int | None = 3
        self.outcome: str | None = None  # "succeeded" / "failed" / "cancelled"; else by suffix
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @staticmethod
    def handles(path: str) -> bool:
        route = urlsplit(path).path
        return route == "/v1/files" or route.startswith(("/v1/files/", "/v1/fine_tuning/"))

    def creates(self) -> int:
        """How many job creations were asked for (answered or refused)."""
        return sum(
            1 for r in self.requests if (r["method"], r["path"]) == ("POST", "/v1/fine_tuning/jobs")
        )

    def uploaded_lines(self, purpose: str = "fine-tune") -> list[str]:
        """Every line of every file uploaded with `purpose`, in upload order."""
        return [
            line
            for file in self.files.values()
            if file["purpose"] == purpose
            for line in file["bytes"].decode().splitlines()
        ]

    def answer(
        self, method: str, path: str, headers: Mapping[str, str], data: bytes
    ) -> tuple[int, Any, Mapping[str, str]]:
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")[1:]  # without "v1"
        with self._lock:
            body: Any = self._form(headers, data) if parts == ["files"] else _json_or_none(data)
            self.requests.append({"method": method, "path": url.path, "body": body})
            if method == "POST" and parts == ["files"]:
                return self._upload(body)
            if method == "GET" and len(parts) == 2 and parts[0] == "files":
                return self._file(parts[1])
            if method == "POST" and parts == ["fine_tuning", "jobs"]:
                return self._create(body or {})
            if method == "GET" and parts[:2] == ["fine_tuning", "jobs"] and len(parts) == 3:
                return self._retrieve(parts[2])
            if method == "GET" and len(parts) == 4 and parts[3] == "events":
                return self._events(parts[2], parse_qs(url.query))
            return _error(404, f"no route {method} {url.path}")

    @staticmethod
    def _form(headers: Mapping[str, str], data: bytes) -> dict[str, Any]:
        head = f"content-type: {headers.get('content-type', '')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + data)
        form: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            form[name] = part.get_payload(decode=True)
            if part.get_filename():
                form["filename"] = part.get_filename()
        return form

    def _upload(self, form: Mapping[str, Any]) -> tuple[int, Any, Mapping[str, str]]:
        if not isinstance(form.get("file"), bytes) or not form.get("purpose"):
            return _error(400, "a file and a purpose are required")
        file_id = f"file-fake{next(self._ids)}"
        self.files[file_id] = {
            "filename": form.get("filename", "upload"),
            "purpose": form["purpose"].decode(),
            "bytes": form["file"],
            "reads": 0,
        }
        return 200, self._file_json(file_id, "uploaded"), {}

    def _file(self, file_id: str) -> tuple[int, Any, Mapping[str, str]]:
        if file_id not in self.files:
            return _error(404, f"No such File object: {file_id}")
        self.files[file_id]["reads"] += 1
        return (
            200,
            self._file_json(
                file_id, "processed" if self.files[file_id]["reads"] > 1 else "uploaded"
            ),
            {},
        )

    def _file_json(self, file_id: str, status: str) -> dict[str, Any]:
        file = self.files[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(file["bytes"]),
            "created_at": 0,
            "filename": file["filename"],
            "purpose": file["purpose"],
            "status": status,
        }

    def _create(self, body: Mapping[str, Any]) -> tuple[int, Any, Mapping[str, str]]:
        if self.create_errors:
            status, message, *rest = self.create_errors.pop(0)
            return _error(status, message, *rest)
        for key in ("training_file", "validation_file"):
            if body.get(key) is not None and body[key] not in self.files:
                return _error(400, f"invalid {key}: {body[key]}")
        job_id = f"ftjob-fake{next(self._ids)}"
        suffix = body.get("suffix") or ""
        outcome = self.outcome or (
            "failed" if "fail" in suffix else "cancelled" if "cancel" in suffix else "succeeded"
        )
        self.jobs[job_id] = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": 0,
            "model": body.get("model"),
            "training_file": body.get("training_file"),
            "validation_file": body.get("validation_file"),
            "seed": body.get("seed", 0),
            "status": "validating_files",
            "fine_tuned_model": None,
            "error": None,
            "finished_at": None,
            "hyperparameters": {"n_epochs": "auto"},
            "organization_id": "org-fake",
            "result_files": [],
            "trained_tokens": None,
            "_request": dict(body),
            "_outcome": outcome,
            "_reads": 0,
            "_events": [],
        }
        self._event(job_id, f"Created fine-tuning job: {job_id}")
        return 200, self._job_json(job_id), {}

    def _retrieve(self, job_id: str) -> tuple[int, Any, Mapping[str, str]]:
        if self.retrieve_errors:
            return _error(*self.retrieve_errors.pop(0))
        if job_id not in self.jobs:
            return _error(404, f"Could not find fine tune: {job_id}")
        job = self.jobs[job_id]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return 200, self._job_json(job_id), {}
        job["_reads"] += 1
        if self.polls is not None and job["_reads"] >= self.polls:
            job["status"] = job["_outcome"]
            job["finished_at"] = 1
            if job["status"] == "succeeded":
                suffix = job["_request"].get("suffix") or ""
                job["fine_tuned_model"] = (
                    f"ft:{job['model']}:fake-org:{suffix}:{job_id.split('-')[-1]}"
                )
                self._event(job_id, f"New fine-tuned model created: {job['fine_tuned_model']}")
            elif job["status"] == "failed":
                job["error"] = {"code": "invalid_training_file", "message": "Bad data"}
                self._event(job_id, "Job failed: Bad data", level="error")
            else:
                self._event(job_id, "Job cancelled")
        else:
            job["status"] = "running"
            self._event(job_id, f"Step {job['_reads']}: training loss=0.{job['_reads']}")
        return 200, self._job_json(job_id), {}

    def _events(
        self, job_id: str, query: Mapping[str, list[str]]
    ) -> tuple[int, Any, Mapping[str, str]]:
        if job_id not in self.jobs:
            return _error(404, f"Could not find fine tune: {job_id}")
        newest_first = list(reversed(self.jobs[job_id]["_events"]))
        if "after" in query:
            ids = [event["id"] for event in newest_first]
            after = query["after"][0]
            newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
        limit = int(query.get("limit", ["20"])[0])
        page = newest_first[:limit]
        return 200, {"object": "list", "data": page, "has_more": len(newest_first) > limit}, {}

    def _event(self, job_id: str, message: str, level: str = "info") -> None:
        events = self.jobs[job_id]["_events"]
        events.append(
            {
                "id": f"ftevent-{job_id.split('-')[-1]}-{len(events) + 1}",
                "object": "fine_tuning.job.event",
                "created_at": len(events),
                "level": level,
                "message": message,
                "type": "message",
            }
        )

    def _job_json(self, job_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.jobs[job_id].items() if not k.startswith("_")}


# ---- Batches ------------------------------------------------------------------------------


class _Batches:
    """The Batch API of the fake: batches of uploaded lines, answered from the script after
    a number of reads. Answers are `(status, bytes, headers)`."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.batches: dict[str, dict[str, Any]] = {}  # id -> the batch's JSON (+ bookkeeping)
        self.requests: list[dict[str, Any]] = []  # {method, path}
        self.polls: int | None = 3
        self.outcome = "completed"
        self.answered_before_end = 0  # lines answered by a batch that fails/expires/cancels
        self.fail_prompts: set[str] = set()
        self.lines = 0  # lines answered, over every batch
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @staticmethod
    def handles(path: str) -> bool:
        parts = urlsplit(path).path.strip("/").split("/")
        return parts[:2] == ["v1", "batches"] or (
            len(parts) == 4 and parts[:2] == ["v1", "files"] and parts[3] == "content"
        )

    def creates(self) -> int:
        return sum(1 for r in self.requests if (r["method"], r["path"]) == ("POST", "/v1/batches"))

    def reads(self, batch_id: str | None = None) -> int:
        """Reads of one batch (or of every batch)."""
        return sum(
            1
            for r in self.requests
            if r["method"] == "GET"
            and r["path"].startswith("/v1/batches/")
            and (batch_id is None or r["path"] == f"/v1/batches/{batch_id}")
        )

    def answer(
        self, method: str, path: str, headers: Mapping[str, str], data: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        parts = urlsplit(path).path.strip("/").split("/")[1:]  # without "v1"
        with self._lock:
            route = urlsplit(path).path
            self.requests.append({"method": method, "path": route, "headers": dict(headers)})
            if method == "GET" and parts[0] == "files":
                return self._content(parts[1])
            if method == "POST" and parts == ["batches"]:
                return self._json(*self._create(json.loads(data or b"{}")))
            if method == "GET" and len(parts) == 2:
                return self._json(*self._retrieve(parts[1]))
            return self._json(*_error(404, f"no route {method} {path}")[:2])

    @staticmethod
    def _json(status: int, payload: Any) -> tuple[int, bytes, dict[str, str]]:
        return status, json.dumps(payload).encode(), {}

    def _content(self, file_id: str) -> tuple[int, bytes, dict[str, str]]:
        file = self.fake.fine_tuning.files.get(file_id)
        if file is None:
            return self._json(*_error(404, f"No such File object: {file_id}")[:2])
        return 200, file["bytes"], {"content-type": "application/octet-stream"}

    def _create(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        file = self.fake.fine_tuning.files.get(body.get("input_file_id", ""))
        if file is None or file["purpose"] != "batch":
            return _error(400, f"invalid input_file_id: {body.get('input_file_id')}")[:2]
        if body.get("completion_window") != "24h":
            return _error(400, "completion_window must be 24h")[:2]
        lines = [json.loads(line) for line in file["bytes"].decode().splitlines() if line]
        ids = [line["custom_id"] for line in lines]
        if len(set(ids)) != len(ids):
            return _error(400, "custom_id values must be unique")[:2]
        if any(line["url"] != body.get("endpoint") or line["method"] != "POST" for line in lines):
            return _error(400, "every line must POST to the batch's endpoint")[:2]
        batch_id = f"batch_fake{next(self._ids)}"
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": 0,
            "metadata": body.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "_lines": lines,
            "_reads": 0,
        }
        return 200, self._public(batch_id)

    def _retrieve(self, batch_id: str) -> tuple[int, Any]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return _error(404, f"No batch found with id '{batch_id}'.")[:2]
        if batch["status"] in ("validating", "in_progress"):
            batch["_reads"] += 1
            total = batch["request_counts"]["total"]
            if self.polls is not None and batch["_reads"] >= self.polls:
                self._end(batch)
            else:
                batch["status"] = "in_progress"
                done = total * batch["_reads"] // (self.polls or total + 1)
                batch["request_counts"]["completed"] = min(done, total)
        return 200, self._public(batch_id)

    def _end(self, batch: dict[str, Any]) -> None:
        lines = batch["_lines"]
        if self.outcome == "failed":
            batch["status"] = "failed"
            error = {"code": "invalid_request", "message": "fake: the batch failed", "line": 1}
            batch["errors"] = {"object": "list", "data": [error]}
            return
        answered = lines if self.outcome == "completed" else lines[: self.answered_before_end]
        output, errors = [], []
        for line in answered:
            record, failed = self._line_result(batch["endpoint"], line)
            (errors if failed else output).append(json.dumps(record))
        batch["status"] = self.outcome
        batch["request_counts"].update(completed=len(output), failed=len(errors))
        batch["output_file_id"] = self._file("batch_output", output)
        batch["error_file_id"] = self._file("batch_output", errors)

    def _line_result(self, endpoint: str, line: Mapping[str, Any]) -> tuple[Any, bool]:
        """One output-file record, answered as a live request to `endpoint` would be."""
        body = line["body"]
        self.lines += 1
        record: dict[str, Any] = {"id": f"batch_req_{self.lines}", "custom_id": line["custom_id"]}
        prompt = _prompt(body)
        if prompt in self.fail_prompts:
            record.update(response=None, error={"code": "server_error", "message": "fake fail"})
            return record, True
        if self.fake.respond is not None:
            answer = self.fake.respond(body)
        else:
            answer = self.fake.next_answer(prompt, body.get("model", ""))
        if "status" in answer:
            error = {"error": {"message": answer.get("error", "scripted error"), "type": "fake"}}
            response = {"status_code": answer["status"], "request_id": "req_fake", "body": error}
            record.update(response=response, error=None)
            return record, True
        form = _response if endpoint.endswith("/responses") else _completion
        answer_body = form(body, answer, self.fake.model)
        response = {"status_code": 200, "request_id": f"req_{self.lines}", "body": answer_body}
        record.update(response=response, error=None)
        return record, False

    def _file(self, purpose: str, records: list[str]) -> str | None:
        if not records:
            return None
        file_id = f"file-batchout{next(self._ids)}"
        with self.fake.fine_tuning._lock:
            self.fake.fine_tuning.files[file_id] = {
                "filename": f"{file_id}.jsonl",
                "purpose": purpose,
                "bytes": "".join(f"{record}\n" for record in records).encode(),
                "reads": 0,
            }
        return file_id

    def _public(self, batch_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.batches[batch_id].items() if not k.startswith("_")}


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data.decode(errors="replace")


def _error(
    status: int, message: str, headers: Mapping[str, str] | None = None, code: str | None = None
) -> tuple[int, Any, Mapping[str, str]]:
    return status, {"error": {"message": message, "type": "fake", "code": code}}, headers or {}
