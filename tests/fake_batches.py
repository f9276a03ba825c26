"""The fake server's Batches API (see `fakeserver`)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fake_answers import completion as chat_answer
from fake_answers import error, prompt_of
from fake_answers import response as responses_answer

if TYPE_CHECKING:
    from fakeserver import FakeOpenAI


class Batches:
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
            return self._json(*error(404, f"no route {method} {path}")[:2])

    @staticmethod
    def _json(status: int, payload: Any) -> tuple[int, bytes, dict[str, str]]:
        return status, json.dumps(payload).encode(), {}

    def _content(self, file_id: str) -> tuple[int, bytes, dict[str, str]]:
        file = self.fake.fine_tuning.files.get(file_id)
        if file is None:
            return self._json(*error(404, f"No such File object: {file_id}")[:2])
        return 200, file["bytes"], {"content-type": "application/octet-stream"}

    def _create(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        file = self.fake.fine_tuning.files.get(body.get("input_file_id", ""))
        if file is None or file["purpose"] != "batch":
            return error(400, f"invalid input_file_id: {body.get('input_file_id')}")[:2]
        if body.get("completion_window") != "24h":
            return error(400, "completion_window must be 24h")[:2]
        lines = [json.loads(line) for line in file["bytes"].decode().splitlines() if line]
        ids = [line["custom_id"] for line in lines]
        if len(set(ids)) != len(ids):
            return error(400, "custom_id values must be unique")[:2]
        if any(line["url"] != body.get("endpoint") or line["method"] != "POST" for line in lines):
            return error(400, "every line must POST to the batch's endpoint")[:2]
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
            return error(404, f"No batch found with id '{batch_id}'.")[:2]
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
        prompt = prompt_of(body)
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
        form = responses_answer if endpoint.endswith("/responses") else chat_answer
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
