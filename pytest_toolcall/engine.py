"""The engine: one event loop in a background thread, sending requests while pytest runs.

Requests are submitted from pytest's thread in item order and go out at most
`concurrency` at a time, first submitted first sent; each one's callback runs exactly once
on the engine's thread, with the answer or with why there is none. The engine never
touches the main thread's event loop, so async tests and plugins beside it keep theirs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from typing import Any

from pytest_toolcall.send.answers import Answer
from pytest_toolcall.send.redaction import Redactor
from pytest_toolcall.send.transport import Exchange, Sender, SendSettings

NOT_SENT = "not sent: the run stopped first (-x, --maxfail or Ctrl-C)"
CANCELLED = "abandoned while waiting for the answer: the run was interrupted twice"
OnAnswer = Callable[[Answer, Exchange | None], None]


class _Job:
    """One submitted body and its callback, which is called exactly once."""

    def __init__(self, body: Mapping[str, Any], on_answer: OnAnswer) -> None:
        self.body = body
        self._on_answer: OnAnswer | None = on_answer

    def answer(self, answer: Answer, exchange: Exchange | None) -> None:
        on_answer, self._on_answer = self._on_answer, None
        if on_answer is not None:
            on_answer(answer, exchange)


class Engine:
    """Sends request bodies concurrently on its own loop; started on the first submit."""

    def __init__(self, send: SendSettings, redactor: Redactor | None = None) -> None:
        self.settings = send
        self.sender = Sender(send, redactor)
        self.sent = 0  # requests that went out (retries aside)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._slots: asyncio.Semaphore | None = None
        self._queued: set[asyncio.Task[None]] = set()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._accepting = True
        self._lock = threading.Lock()

    def submit(self, body: Mapping[str, Any], on_answer: OnAnswer) -> None:
        """Queue `body`; `on_answer` is called once, on the engine's thread (or right here
        when the engine no longer sends)."""
        with self._lock:
            loop = self._start() if self._accepting else None
        if loop is None:
            on_answer(Answer(error=NOT_SENT), None)
            return
        loop.call_soon_threadsafe(self._queue, _Job(body, on_answer))

    def stop_sending(self) -> None:
        """Send nothing more: what is queued is answered `not sent`; what is in flight ends."""
        with self._lock:
            self._accepting = False
            loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._cancel, self._queued)

    def close(self) -> None:
        """Stop the loop and its thread. Nothing queued is sent; what is in flight was paid
        for, so its answer is awaited (and recorded); a second Ctrl-C abandons it."""
        self.stop_sending()
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        drained = asyncio.run_coroutine_threadsafe(self._drain(), loop)
        try:
            try:
                drained.result()
            except KeyboardInterrupt:
                loop.call_soon_threadsafe(self._cancel, self._in_flight)
                drained.result()
                raise
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    # -- on the engine's thread ----------------------------------------------------------

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)  # this thread's loop only
                self._slots = asyncio.Semaphore(self.settings.concurrency)
                try:
                    self.sender.open()
                finally:
                    loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="pytest-toolcall-engine", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
        return self._loop

    def _queue(self, job: _Job) -> None:
        task = asyncio.ensure_future(self._send(job))
        self._queued.add(task)
        task.add_done_callback(self._queued.discard)
        # A task cancelled before its first step never runs its body: answer it here.
        task.add_done_callback(lambda _: job.answer(Answer(error=NOT_SENT), None))
        if not self._accepting:
            task.cancel()

    async def _send(self, job: _Job) -> None:
        answer, exchange = Answer(error=NOT_SENT), None
        task = asyncio.current_task()
        assert self._slots is not None and task is not None
        try:
            async with self._slots:
                self._queued.discard(task)
                self._in_flight.add(task)
                answer = Answer(error=CANCELLED)
                self.sent += 1
                answer, exchange = await self.sender.send(job.body)
        except asyncio.CancelledError:
            pass  # `answer` says whether it had gone out
        except Exception as exc:  # an answer is owed whatever breaks; never a re-send
            answer, exchange = Answer(error=f"internal error: {type(exc).__name__}: {exc}"), None
        finally:
            self._in_flight.discard(task)
            job.answer(answer, exchange)

    def _cancel(self, tasks: set[asyncio.Task[None]]) -> None:
        for task in list(tasks):
            task.cancel()

    async def _drain(self) -> None:
        self._cancel(self._queued)
        pending = self._queued | self._in_flight
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await self.sender.aclose()
