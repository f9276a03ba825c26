"""One cassette's requests answered: replayed when recorded, else sent and recorded.

The plugin (a recorder per case file x model) and `generate` (one per output file) share
this loop, so the record modes mean the same everywhere:
none, once, new_episodes replay what is recorded; once and new_episodes send what is
missing (or unusable), none refuses to; all and rewrite send everything again, and rewrite
drops what the run did not use, when the run was complete.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pytest_toolcall.cassettes import Cassette, CassetteError, Recording
from pytest_toolcall.send.answers import Answer
from pytest_toolcall.send.bodies import API_PATHS, CHAT_COMPLETIONS_PATH, body_api
from pytest_toolcall.send.redaction import Redactor

REPLAYING_MODES = ("none", "once", "new_episodes")
SAVE_EVERY_S = 1.0  # while recording, what arrived is on disk within about this long
# send(body, body_hash, sample, on_answer): how a request goes out
Send = Callable[[Mapping[str, Any], str, int, Callable[[Answer, Any], None]], None]


@dataclass(frozen=True)
class RecordPolicy:
    """What a run does with cassettes."""

    record_mode: str = "none"
    live: bool = False  # no cassette at all: every request is sent

    @property
    def replays(self) -> bool:
        return not self.live and self.record_mode in REPLAYING_MODES

    @property
    def sends(self) -> bool:
        return self.live or self.record_mode != "none"


T = TypeVar("T")


class Settled(Generic[T]):
    """A value known when it is asked for (a replayed or refused answer): what is read of
    a `Future` (`result`, `done`, `add_done_callback`) without its lock and condition,
    of which a replay of thousands of cases made thousands."""

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value = value

    def result(self, timeout: float | None = None) -> T:
        return self._value

    def done(self) -> bool:
        return True

    def add_done_callback(self, callback: Callable[[Settled[T]], object]) -> None:
        callback(self)


Answered = Future[Answer] | Settled[Answer]  # what `Recorder.answer` hands back


def in_arrival_order(answers: Iterable[Answered]) -> Iterator[Answered]:
    """`answers` as they become available: the settled ones first, then as they arrive."""
    pending = []
    for answered in answers:
        if isinstance(answered, Settled):
            yield answered
        else:
            pending.append(answered)
    yield from as_completed(pending)


class Recorder:
    """Answers the requests of one cassette; records what is sent as it arrives.

    `send(body, body_hash, sample, on_answer)` is how a request goes out (the engine's
    `submit`, or under pytest-xdist a wait for the worker that owns the file); `writes`
    is False where another process writes this cassette.
    """

    def __init__(
        self,
        path: Path | None,
        policy: RecordPolicy,
        send: Send,
        *,
        url: str,
        redactor: Redactor,
        scrubbed_headers: tuple[str, ...] = (),
        order: Mapping[str, int],
        writes: bool = True,
    ) -> None:
        self.policy = policy
        self.url = url  # where Chat Completions bodies go; Responses bodies beside it
        self._urls = {
            api: url.removesuffix(CHAT_COMPLETIONS_PATH) + path for api, path in API_PATHS.items()
        }
        self.order = order  # label -> position, so saved interactions follow the cases
        self.writes = writes
        self.used: set[tuple[tuple[str, str, str], int]] = set()
        self.broken: str | None = None
        self._send = send
        self._lock = threading.Lock()
        self._last_save = time.monotonic()
        self.cassette: Cassette | None = None
        self.unwritable: str | None = None
        if path is not None and not policy.live:
            self.cassette = Cassette(path, scrubbed_headers, redactor.mask)
            try:
                self.cassette.load()
            except CassetteError as exc:
                self.broken = str(exc)
            if policy.sends:
                self.unwritable = self.cassette.writable()

    def answer(
        self,
        body: Mapping[str, Any],
        body_hash: str,
        label: str,
        sample: int,
        *,
        what: str,
        hint: str,
    ) -> Answered:
        """The `sample`-th answer to `body`: at once when replayed, else when it arrives.

        `what` names the request and `hint` says how to record it, for the messages.
        """
        url = self.url_for(body)
        self.used.add((Cassette.key("POST", url, body_hash), sample))
        if self.broken is not None:
            return Settled(Answer(error=self.broken))
        if (found := self._replayable(body_hash, sample, url)) is not None:
            return Settled(found.answer)
        if self.policy.replays and self.cassette is not None:
            # a recording that cannot be served: reported by `none`, asked again otherwise
            problem = self.cassette.unusable("POST", url, body_hash, sample)
            if problem is not None and not self.policy.sends:
                return Settled(Answer(error=f"{what}: {problem}"))
        if not self.policy.sends:
            return Settled(Answer(error=f"no recording for {what}: record it {hint}"))
        if self.unwritable is not None:  # paid answers that could not be kept: not sent
            return Settled(Answer(error=f"not sent: {self.unwritable}"))
        future: Future[Answer] = Future()
        self._send(
            body,
            body_hash,
            sample,
            lambda answer, exchange: self._arrived(future, label, sample, answer, exchange),
        )
        return future

    def url_for(self, body: Mapping[str, Any]) -> str:
        """Where `body` is posted: its API's path. Method, path and body hash find a
        recording, so a case never replays what another API answered."""
        return self._urls[body_api(body)]

    def replays(self, body_hash: str, sample: int, url: str | None = None) -> bool:
        """Whether `answer` would serve this sample from the cassette, sending nothing
        (`url`: the request's, `url_for(body)`; default the Chat Completions one)."""
        return self._replayable(body_hash, sample, url or self.url) is not None

    def _replayable(self, body_hash: str, sample: int, url: str) -> Recording | None:
        """The recording `answer` serves for this sample, if it can serve one."""
        if self.broken is not None or not self.policy.replays or self.cassette is None:
            return None
        found = self.cassette.find("POST", url, body_hash, sample)
        return found if found is not None and found.answer.error is None else None

    def _arrived(
        self, future: Future[Answer], label: str, sample: int, answer: Answer, exchange: Any
    ) -> None:
        """On the engine's thread: record a usable answer, then let its item see it."""
        try:
            if exchange is not None and answer.error is None and self._records:
                with self._lock:
                    assert self.cassette is not None
                    self.cassette.put(exchange, label, sample)
                    if time.monotonic() - self._last_save > SAVE_EVERY_S:
                        self._last_save = time.monotonic()
                        # A failing save is retried at close, which reports it.
                        with contextlib.suppress(OSError, CassetteError):
                            self.cassette.save(self.order)
        finally:
            future.set_result(answer)

    @property
    def _records(self) -> bool:
        return self.cassette is not None and self.writes

    def close(self, *, complete: bool) -> None:
        """Save what was recorded. `rewrite` drops unused recordings only after a complete
        run: a run stopped by -x or Ctrl-C never used the rest, and must not lose them."""
        if not self._records:
            return
        assert self.cassette is not None
        with self._lock:
            if self.policy.record_mode == "rewrite" and complete:
                self.cassette.keep_only(self.used)
            if self.cassette.changed:
                self.cassette.save(self.order)
