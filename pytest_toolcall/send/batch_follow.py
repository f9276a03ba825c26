"""Following submitted batches: polled until they end, their answers handed out.

`Follower.follow` reads every batch each `poll_s` seconds (the first read at once) and
says its status and completed / total when they change. A completed batch's output and
error files are downloaded and each line given to its request as the answer (and
exchange) a live request would have given; a batch that failed, expired or was cancelled
is said, what it did answer is handed out, and the rest is marked to be submitted again
by the next run. A batch that cannot be read `MAX_MISSED_POLLS` times in a row, or whose
answers cannot be downloaded, stays pending for the next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_toolcall.send.answers import Answer
from pytest_toolcall.send.batch_lines import read_results, result_answer
from pytest_toolcall.send.batch_state import PendingBatch, PendingFile
from pytest_toolcall.send.redaction import Redactor, api_error_text
from pytest_toolcall.send.transport import Exchange

if TYPE_CHECKING:
    import openai

OnAnswer = Callable[[Answer, Exchange | None], None]
Say = Callable[[str, bool], None]  # (text, is it a problem)
ENDED = frozenset({"failed", "expired", "cancelled"})  # a batch that ends without (all) answers
MAX_MISSED_POLLS = 5  # reads of a batch failing in a row before the run stops waiting for it


def wait(seconds: float) -> None:
    """The pause between two polls (a function of its own: tests count polls with it)."""
    time.sleep(seconds)


@dataclass
class Request:
    """One cassette slot to answer, and everyone waiting for it."""

    cassette: Path
    url: str  # the full URL a live request would have gone to (the cassette's key)
    endpoint: str  # the Batch API's endpoint, e.g. /v1/chat/completions
    file: str
    body: Mapping[str, Any]
    body_hash: str
    sample: int
    callbacks: list[OnAnswer] = field(default_factory=list)

    def answer(self, answer: Answer, exchange: Exchange | None) -> None:
        callbacks, self.callbacks = self.callbacks, []
        for on_answer in callbacks:
            on_answer(answer, exchange)


@dataclass
class Followed:
    """A batch this round waits for, and which of its lines are this run's requests."""

    pending: PendingFile
    batch: PendingBatch
    mine: dict[str, Request]
    status: str = ""
    misses: int = 0
    done: bool = False


class Follower:
    """Polls batches and hands their answers out, through one `openai.OpenAI` client."""

    def __init__(self, client: openai.OpenAI, redactor: Redactor, say: Say) -> None:
        self.client = client
        self.redactor = redactor
        self.say = say

    def follow(self, followed: list[Followed], poll_s: float) -> None:
        """Poll every batch of `followed` until each is collected or given up."""
        while True:
            for item in followed:
                if not item.done:
                    self._poll(item)
            if all(item.done for item in followed):
                return
            wait(poll_s)

    def _poll(self, item: Followed) -> None:
        import openai

        batch_id = item.batch.id
        try:
            batch = self.client.batches.retrieve(batch_id)
        except openai.NotFoundError as exc:
            text = self.error_text(exc)
            self.say(
                f"batch {batch_id} is not at {item.batch.server} ({text}): submitted again", True
            )
            self._finish(item, {}, ended=f"was not found ({text})")
            return
        except openai.OpenAIError as exc:
            item.misses += 1
            text = self.error_text(exc)
            self.say(f"batch {batch_id} could not be read ({text})", True)
            if item.misses >= MAX_MISSED_POLLS:
                self._give_up(item, f"batch {batch_id} could not be read ({text})")
            return
        item.misses = 0
        counts = batch.request_counts
        progress = f"{counts.completed}/{counts.total}" if counts is not None else "?"
        if counts is not None and counts.failed:
            progress += f", {counts.failed} failed"
        status = f"{batch.status} {progress}"
        if status != item.status:
            item.status = status
            self.say(f"batch {batch_id}: {status}", False)
        if batch.status == "completed":
            self._collect(item, batch, ended=None)
        elif batch.status in ENDED:
            ended = self.redactor.error_text(_ending(batch))
            self.say(
                f"batch {batch_id} {ended}: what it did not answer is submitted again on the "
                "next run",
                True,
            )
            self._collect(item, batch, ended=ended)

    def _collect(self, item: Followed, batch: Any, *, ended: str | None) -> None:
        import openai

        results: dict[str, dict[str, Any]] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            try:
                data = self.client.files.content(file_id).content
            except openai.OpenAIError as exc:
                self._give_up(
                    item,
                    f"the answers of batch {batch.id} ({file_id}) could not be "
                    f"downloaded ({self.error_text(exc)})",
                )
                return
            found, unreadable = read_results(data)
            results.update(found)
            if unreadable:
                self.say(f"{unreadable} line(s) of {file_id} (batch {batch.id}) are not JSON", True)
        self._finish(item, results, ended=ended)

    def _finish(
        self, item: Followed, results: Mapping[str, dict[str, Any]], *, ended: str | None
    ) -> None:
        """Hand every line of this run to its request; what the run did not ask stays."""
        batch = item.batch
        for cid, request in item.mine.items():
            record = results.get(cid)
            exchange = None
            if record is not None:
                answer, exchange = result_answer(
                    record, url=request.url, body=request.body, batch_id=batch.id
                )
            elif ended is not None:
                answer = Answer(
                    error=f"batch {batch.id} {ended} without answering this request: it is "
                    "submitted again on the next run"
                )
            else:
                answer = Answer(error=f"batch {batch.id} completed without an answer for it")
            if record is not None or ended is None:
                batch.lines.pop(cid, None)  # collected (a failed line too: never recorded)
            request.answer(answer, exchange)
        if ended is not None:
            batch.ended = ended
        if not batch.lines:
            item.pending.batches.pop(batch.id, None)
        item.done = True

    def _give_up(self, item: Followed, why: str) -> None:
        """Stop waiting for a batch this run; it stays pending for the next."""
        for request in item.mine.values():
            request.answer(
                Answer(error=f"{why}: still pending in {item.pending.path}, run again"), None
            )
        item.done = True

    def error_text(self, exc: Exception) -> str:
        return api_error_text(exc, self.redactor)


def _ending(batch: Any) -> str:
    """How a batch ended without answers: its status, and its errors when it gives them."""
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    reasons = "; ".join(
        f"{e.code}: {e.message}" if getattr(e, "code", None) else str(e.message) for e in errors
    )
    return f"{batch.status}" + (f" ({reasons})" if reasons else "")
