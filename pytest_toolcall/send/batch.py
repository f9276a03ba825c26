"""`--toolcall-batch`: what must be recorded goes out through the Batch API, not live.

During `pytest_runtestloop`'s submission every request a recorder sends is collected here
(`submit`); `run` then, on pytest's main thread and before the first item:

1. per cassette folder, reads the pending file (`batch_state`): a batch that ended without
   answers in an earlier run is said and its requests submitted again; a batch still
   pending that holds requests of this run is followed again, never submitted twice;
2. submits the rest: one JSONL per folder and endpoint, split by the Batch API's limits
   (`batch_lines`), uploaded with `purpose=batch`, created with `completion_window=24h`,
   and written to the pending file at once (a run stopped from then on resumes it);
3. polls every `poll_s` seconds, printing status and completed / total when they change;
4. downloads the output and error files and hands each line to its request's `on_answer`
   as the answer and exchange a live request would have given: recorded as if live.
   A failed line is an `error` answer, never recorded.

Rounds repeat while answers submit more requests (the seam for agent steps: each later
turn is submitted from its earlier turn's `on_answer`, and goes out in the next round).
What was collected leaves the pending file at `close`, once the cassettes were saved: a
run that dies before that collects the same batch again, never pays for it twice.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pytest_toolcall.send import batch_lines
from pytest_toolcall.send.answers import Answer
from pytest_toolcall.send.batch_lines import input_line, read_results, result_answer
from pytest_toolcall.send.batch_state import (
    Line,
    PendingBatch,
    PendingError,
    PendingFile,
    custom_id,
    pending_path,
    public_url,
)
from pytest_toolcall.send.bodies import DEFAULT_BASE_URL
from pytest_toolcall.send.redaction import Redactor
from pytest_toolcall.send.transport import NO_KEY_PLACEHOLDER, Exchange, SendSettings

if TYPE_CHECKING:
    import openai

OnAnswer = Callable[[Answer, Exchange | None], None]
ENDED = frozenset({"failed", "expired", "cancelled"})  # a batch that ends without (all) answers
MAX_MISSED_POLLS = 5  # reads of a batch failing in a row before the run stops waiting for it
UPLOAD_TIMEOUT_S = 600.0
LATE = (
    "not sent: with --toolcall-batch every request goes out before the first test runs, "
    "and this one was asked for later"
)


def wait(seconds: float) -> None:
    """The pause between two polls (a function of its own: tests count polls with it)."""
    time.sleep(seconds)


@dataclass(frozen=True)
class BatchSettings:
    poll_s: float = 30.0


@dataclass
class _Request:
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
class _Followed:
    """A batch this round waits for, and which of its lines are this run's requests."""

    pending: PendingFile
    batch: PendingBatch
    mine: dict[str, _Request]
    status: str = ""
    misses: int = 0
    done: bool = False


Say = Callable[[str, bool], None]


class BatchSender:
    """Collects what recorders send, then answers it all through batches (`run`)."""

    def __init__(self, send: SendSettings, settings: BatchSettings, redactor: Redactor) -> None:
        self.send_settings = send
        self.settings = settings
        self.redactor = redactor
        self.created = 0  # batches created by this run
        self._requests: dict[Path, dict[str, _Request]] = {}  # folder -> custom_id -> request
        self._pending: dict[Path, PendingFile] = {}
        self._client: openai.OpenAI | None = None
        self._closed = False
        base = urlsplit(send.base_url or DEFAULT_BASE_URL)
        self._origin = urlunsplit((base.scheme, base.netloc, "", "", ""))
        self._base_path = base.path.rstrip("/")

    # -- collecting ------------------------------------------------------------------

    def submit(
        self,
        cassette: Path,
        url: str,
        body: Mapping[str, Any],
        body_hash: str,
        sample: int,
        on_answer: OnAnswer,
        *,
        file: str = "",
    ) -> None:
        """Queue the `sample`-th answer to `body` for `cassette`; `url` is the path the
        recorder posts `body` to (its API's). Answered during `run`."""
        if self._closed:
            on_answer(Answer(error=LATE), None)
            return
        endpoint = "/v1" + url.removeprefix(self._base_path)
        cid = custom_id(cassette, endpoint, body_hash, sample)
        slots = self._requests.setdefault(cassette.parent, {})
        request = slots.get(cid)
        if request is None:
            full_url = self._origin + url
            request = _Request(cassette, full_url, endpoint, file, body, body_hash, sample)
            slots[cid] = request
        request.callbacks.append(on_answer)

    # -- running ---------------------------------------------------------------------

    def run(self, terminal: Any = None) -> None:
        """Answer everything submitted, through batches; progress on `terminal` (pytest's
        terminal reporter) or stderr. Ctrl-C while waiting leaves the batches pending."""
        say = _sayer(terminal)
        try:
            while self._requests:
                requests, self._requests = self._requests, {}
                self._round(requests, say)
        except KeyboardInterrupt:
            files = ", ".join(str(p.path) for p in self._pending.values() if p.batches)
            if files:
                say(f"batches still pending in {files}: run again to collect them", True)
            raise
        finally:
            self._closed = True

    def close(self, *, saved: bool = True) -> list[str]:
        """Write what this run collected out of the pending files once the cassettes were
        `saved` (removing a file once nothing in it is pending); if they were not, the
        files stay as they are and the next run collects the same batches again. Returns
        what could not be written."""
        problems = []
        for pending in self._pending.values() if saved else ():
            try:
                pending.save()
            except OSError as exc:
                problems.append(f"pending batches {pending.path} not updated: {exc}")
        if self._client is not None:
            self._client.close()
            self._client = None
        return problems

    def _round(self, requests: dict[Path, dict[str, _Request]], say: Say) -> None:
        followed: list[_Followed] = []
        for folder, slots in requests.items():
            pending = self._pending.get(folder)
            if pending is None:
                try:
                    pending = PendingFile(pending_path(folder / "x")).load()
                except PendingError as exc:
                    say(str(exc), True)
                    for request in slots.values():
                        request.answer(Answer(error=f"not sent: {exc}"), None)
                    continue
                self._pending[folder] = pending
            followed += self._resumed(pending, slots, say)
            claimed = {cid for item in followed for cid in item.mine}
            fresh = {cid: r for cid, r in slots.items() if cid not in claimed}
            followed += self._submitted(pending, fresh, say)
        self._follow(followed, say)

    def _resumed(
        self, pending: PendingFile, slots: dict[str, _Request], say: Say
    ) -> list[_Followed]:
        followed = []
        for batch in list(pending.batches.values()):
            mine = {cid: slots[cid] for cid in batch.lines if cid in slots}
            if batch.ended is not None:
                say(
                    f"batch {batch.id} {batch.ended} (an earlier run): its {len(mine)} "
                    f"request(s) of this run are submitted again",
                    True,
                )
                del pending.batches[batch.id]
                pending.save()
            elif mine:
                say(
                    f"batch {batch.id} resumed (submitted by an earlier run, kept in "
                    f"{pending.path}): {len(mine)} request(s) of this run",
                    False,
                )
                followed.append(_Followed(pending, batch, mine))
        return followed

    def _submitted(
        self, pending: PendingFile, fresh: dict[str, _Request], say: Say
    ) -> list[_Followed]:
        by_endpoint: dict[str, list[tuple[str, bytes]]] = {}
        for cid, request in fresh.items():
            line = input_line(cid, request.endpoint, request.body)
            if len(line) > batch_lines.MAX_BATCH_BYTES:
                request.answer(
                    Answer(
                        error=f"not sent: its batch line is {len(line)} bytes, over the "
                        f"Batch API's {batch_lines.MAX_BATCH_BYTES} per batch"
                    ),
                    None,
                )
                continue
            by_endpoint.setdefault(request.endpoint, []).append((cid, line))
        followed = []
        for endpoint, lines in by_endpoint.items():
            for chunk in batch_lines.split(lines):
                mine = {cid: fresh[cid] for cid, _ in chunk}
                batch = self._create(pending, endpoint, chunk, mine, say)
                if batch is not None:
                    followed.append(_Followed(pending, batch, mine))
        return followed

    def _create(
        self,
        pending: PendingFile,
        endpoint: str,
        chunk: list[tuple[str, bytes]],
        mine: dict[str, _Request],
        say: Say,
    ) -> PendingBatch | None:
        import openai

        client = self._openai()
        data = b"".join(line for _, line in chunk)
        try:
            upload = client.files.create(
                file=("pytest-toolcall-batch.jsonl", data),
                purpose="batch",
                timeout=max(UPLOAD_TIMEOUT_S, self.send_settings.timeout_s),
            )
            created = client.batches.create(
                input_file_id=upload.id,
                endpoint=endpoint,  # type: ignore[arg-type]
                completion_window="24h",
                metadata={"created_by": "pytest-toolcall"},
            )
        except openai.OpenAIError as exc:
            text = self._error_text(exc)
            say(f"batch of {len(chunk)} request(s) to {endpoint} not submitted: {text}", True)
            for request in mine.values():
                request.answer(Answer(error=f"not sent as a batch: {text}"), None)
            return None
        lines = {
            cid: Line(r.cassette.name, r.file, r.body_hash, r.sample) for cid, r in mine.items()
        }
        server = public_url(self.send_settings.base_url or DEFAULT_BASE_URL)
        batch = PendingBatch(created.id, endpoint, self.redactor.mask(server or ""), lines)
        pending.add(batch)  # on disk before anything else: from here on, a rerun resumes it
        self.created += 1
        say(
            f"batch {created.id} submitted: {len(chunk)} request(s) to {endpoint}, "
            f"kept in {pending.path} until collected",
            False,
        )
        return batch

    def _follow(self, followed: list[_Followed], say: Say) -> None:
        while True:
            for item in followed:
                if not item.done:
                    self._poll(item, say)
            if all(item.done for item in followed):
                return
            wait(self.settings.poll_s)

    def _poll(self, item: _Followed, say: Say) -> None:
        import openai

        batch_id = item.batch.id
        try:
            batch = self._openai().batches.retrieve(batch_id)
        except openai.NotFoundError as exc:
            text = self._error_text(exc)
            say(f"batch {batch_id} is not at {item.batch.server} ({text}): submitted again", True)
            self._finish(item, {}, ended=f"was not found ({text})")
            return
        except openai.OpenAIError as exc:
            item.misses += 1
            text = self._error_text(exc)
            say(f"batch {batch_id} could not be read ({text})", True)
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
            say(f"batch {batch_id}: {status}", False)
        if batch.status == "completed":
            self._collect(item, batch, say, ended=None)
        elif batch.status in ENDED:
            ended = self.redactor.error_text(_ending(batch))
            say(
                f"batch {batch_id} {ended}: what it did not answer is submitted again on the "
                "next run",
                True,
            )
            self._collect(item, batch, say, ended=ended)

    def _collect(self, item: _Followed, batch: Any, say: Say, *, ended: str | None) -> None:
        import openai

        results: dict[str, dict[str, Any]] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            try:
                data = self._openai().files.content(file_id).content
            except openai.OpenAIError as exc:
                self._give_up(
                    item,
                    f"the answers of batch {batch.id} ({file_id}) could not be "
                    f"downloaded ({self._error_text(exc)})",
                )
                return
            found, unreadable = read_results(data)
            results.update(found)
            if unreadable:
                say(f"{unreadable} line(s) of {file_id} (batch {batch.id}) are not JSON", True)
        self._finish(item, results, ended=ended)

    def _finish(
        self, item: _Followed, results: Mapping[str, dict[str, Any]], *, ended: str | None
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

    def _give_up(self, item: _Followed, why: str) -> None:
        """Stop waiting for a batch this run; it stays pending for the next."""
        for request in item.mine.values():
            request.answer(
                Answer(error=f"{why}: still pending in {item.pending.path}, run again"), None
            )
        item.done = True

    # -- the API ---------------------------------------------------------------------

    def _openai(self) -> openai.OpenAI:
        if self._client is None:
            import openai

            send = self.send_settings
            self._client = openai.OpenAI(
                api_key=send.api_key or NO_KEY_PLACEHOLDER,
                base_url=send.base_url,
                max_retries=send.retries,
                timeout=send.timeout_s,
                default_headers=dict(send.headers),
            )
        return self._client

    def _error_text(self, exc: Exception) -> str:
        from pytest_toolcall.datagen.finetune_poll import api_error_text

        return api_error_text(exc, self.redactor)


def _ending(batch: Any) -> str:
    """How a batch ended without answers: its status, and its errors when it gives them."""
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    reasons = "; ".join(
        f"{e.code}: {e.message}" if getattr(e, "code", None) else str(e.message) for e in errors
    )
    return f"{batch.status}" + (f" ({reasons})" if reasons else "")


def _sayer(terminal: Any) -> Say:
    def say(text: str, red: bool) -> None:
        if terminal is not None:
            terminal.write_line(f"[toolcall batch] {text}", red=red, bold=red)
        else:
            print(f"[toolcall batch] {text}", file=sys.stderr)

    return say
