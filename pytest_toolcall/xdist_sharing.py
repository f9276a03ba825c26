"""Under pytest-xdist: every case sample is sent by one worker only, whatever `--dist` does.

The controller gives the workers one directory. A worker that must send requests of a
case file x model first claims it (an exclusive create); it alone sends and records them,
and publishes each answer there. A worker that needs one of those answers too (its own
items under `--dist each`, or a gate whose cases ran elsewhere) waits until it is
published, or until the owning worker is gone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_toolcall.atomic_write import write_atomic
from pytest_toolcall.judge.matching import ToolCall
from pytest_toolcall.send.answers import Answer

WORKERINPUT_KEY = "toolcall_shared_answers"
POLL_S = 0.02  # how often a waiting worker looks for answers published by another


def _slug(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:32]


def answer_to_json(answer: Answer) -> str:
    return json.dumps(dataclasses.asdict(answer), ensure_ascii=False)


def answer_from_json(text: str) -> Answer:
    fields = json.loads(text)
    fields["calls"] = tuple(ToolCall(**call) for call in fields.get("calls", ()))
    return Answer(**fields)


class SharedAnswers:
    """One worker's view of the answers the workers share."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._owned: set[str] = set()
        self._waiting: dict[Path, tuple[Path, Callable[[Answer, None], None]]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._poller: threading.Thread | None = None
        self._closed = False

    def claim(self, file_id: str, model: str) -> bool:
        """Whether this worker sends (and records) the requests of `file_id` x `model`."""
        key = _slug(file_id, model)
        if key in self._owned:
            return True
        try:
            handle = os.open(self.directory / f"{key}.owner", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return False
        with os.fdopen(handle, "w") as stream:
            stream.write(str(os.getpid()))
        self._owned.add(key)
        return True

    def send(
        self,
        key: tuple[str, str, str, int],
        body: Any,
        on_answer: Callable[[Answer, Any], None],
        *,
        submit: Callable[[Any, Callable[[Answer, Any], None]], None],
    ) -> bool:
        """Send one request of (file, model, body hash, sample) `key` through `submit` if
        this worker owns the file, publishing the answer; else wait for the owner's.
        Returns whether this worker owns (and so records) the file's cassette."""
        file_id, model, body_hash, sample = key
        if not self.claim(file_id, model):
            self.wait_for(file_id, model, body_hash, sample, on_answer)
            return False

        def publish(answer: Answer, exchange: Any) -> None:
            try:
                on_answer(answer, exchange)
            finally:
                self.publish(file_id, model, body_hash, sample, answer)

        submit(body, publish)
        return True

    def _answer_path(self, file_id: str, model: str, body_hash: str, sample: int) -> Path:
        return self.directory / f"{_slug(file_id, model, body_hash, sample)}.answer.json"

    def publish(
        self, file_id: str, model: str, body_hash: str, sample: int, answer: Answer
    ) -> None:
        """Make an answer this worker got available to the others."""
        write_atomic(self._answer_path(file_id, model, body_hash, sample), answer_to_json(answer))

    def wait_for(
        self,
        file_id: str,
        model: str,
        body_hash: str,
        sample: int,
        on_answer: Callable[[Answer, None], None],
    ) -> None:
        """Call `on_answer` (on a poller thread) once the owner has published the answer."""
        owner = self.directory / f"{_slug(file_id, model)}.owner"
        with self._lock:
            self._waiting[self._answer_path(file_id, model, body_hash, sample)] = (owner, on_answer)
            if self._poller is None:
                self._poller = threading.Thread(
                    target=self._poll, name="pytest-toolcall-shared-answers", daemon=True
                )
                self._poller.start()
        self._wake.set()

    def _poll(self) -> None:
        while not self._closed:
            with self._lock:
                waiting = list(self._waiting.items())
            for path, (owner, on_answer) in waiting:
                answer = self._published(path)
                if answer is None and (gone := self._gone(owner)):
                    # Published just before it went? Otherwise it never will be.
                    answer = self._published(path) or Answer(error=gone)
                if answer is not None:
                    with self._lock:
                        del self._waiting[path]
                    on_answer(answer, None)
            self._wake.wait(POLL_S)
            self._wake.clear()

    @staticmethod
    def _published(path: Path) -> Answer | None:
        try:
            return answer_from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    @staticmethod
    def _gone(owner: Path) -> str | None:
        """Why the owning worker will publish nothing more, if it has stopped."""
        try:
            pid = int(owner.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return None  # being written
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"not answered: the xdist worker that sent this request (pid {pid}) stopped"
        except PermissionError:
            pass
        return None

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._poller is not None:
            self._poller.join()
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for _, on_answer in waiting.values():
            with contextlib.suppress(Exception):
                on_answer(Answer(error="not answered: the run stopped first"), None)
