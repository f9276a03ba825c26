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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pytest_toolcall.send import batch_lines
from pytest_toolcall.send.answers import Answer
from pytest_toolcall.send.batch_follow import (
    Followed,
    Follower,
    OnAnswer,
    Request,
    Say,
)
from pytest_toolcall.send.batch_lines import input_line
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
from pytest_toolcall.send.redaction import Redactor, api_error_text
from pytest_toolcall.send.transport import NO_KEY_PLACEHOLDER, SendSettings

if TYPE_CHECKING:
    import openai

UPLOAD_TIMEOUT_S = 600.0
LATE = (
    "not sent: with --toolcall-batch every request goes out before the first test runs, "
    "and this one was asked for later"
)


@dataclass(frozen=True)
class BatchSettings:
    poll_s: float = 30.0


class BatchSender:
    """Collects what recorders send, then answers it all through batches (`run`)."""

    def __init__(self, send: SendSettings, settings: BatchSettings, redactor: Redactor) -> None:
        self.send_settings = send
        self.settings = settings
        self.redactor = redactor
        self.created = 0  # batches created by this run
        self._requests: dict[Path, dict[str, Request]] = {}  # folder -> custom_id -> request
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
            request = Request(cassette, full_url, endpoint, file, body, body_hash, sample)
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

    def _round(self, requests: dict[Path, dict[str, Request]], say: Say) -> None:
        followed: list[Followed] = []
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
        Follower(self._openai(), self.redactor, say).follow(followed, self.settings.poll_s)

    def _resumed(self, pending: PendingFile, slots: dict[str, Request], say: Say) -> list[Followed]:
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
                followed.append(Followed(pending, batch, mine))
        return followed

    def _submitted(
        self, pending: PendingFile, fresh: dict[str, Request], say: Say
    ) -> list[Followed]:
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
                    followed.append(Followed(pending, batch, mine))
        return followed

    def _create(
        self,
        pending: PendingFile,
        endpoint: str,
        chunk: list[tuple[str, bytes]],
        mine: dict[str, Request],
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
        return api_error_text(exc, self.redactor)


def _sayer(terminal: Any) -> Say:
    def say(text: str, red: bool) -> None:
        if terminal is not None:
            terminal.write_line(f"[toolcall batch] {text}", red=red, bold=red)
        else:
            print(f"[toolcall batch] {text}", file=sys.stderr)

    return say
