"""The fake server's Files and fine-tuning jobs API (see `fakeserver`)."""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_answers import error, json_or_none


class FineTuning:
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
            body: Any = self._form(headers, data) if parts == ["files"] else json_or_none(data)
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
            return error(404, f"no route {method} {url.path}")

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
            return error(400, "a file and a purpose are required")
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
            return error(404, f"No such File object: {file_id}")
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
            return error(status, message, *rest)
        for key in ("training_file", "validation_file"):
            if body.get(key) is not None and body[key] not in self.files:
                return error(400, f"invalid {key}: {body[key]}")
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
            return error(*self.retrieve_errors.pop(0))
        if job_id not in self.jobs:
            return error(404, f"Could not find fine tune: {job_id}")
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
            return error(404, f"Could not find fine tune: {job_id}")
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
