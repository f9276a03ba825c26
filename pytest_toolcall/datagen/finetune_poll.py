"""Following a fine-tuning job: its status and its new events on stderr, until it ends.

`follow` reads the job every `interval` seconds (the first read at once), prints its status
when it changes and every event not printed before (oldest first), and returns the job
once it has succeeded, failed or been cancelled. A read that gets no answer (connection
error, timeout, 429, 5xx, after the SDK's own retries) is reported and tried again at the
next poll; `MAX_MISSED_POLLS` in a row end the wait with `FinetuneError`. Ctrl-C is the
caller's: nothing here cancels a job.
"""

from __future__ import annotations

from collections.abc import Callable
from time import sleep
from typing import Any, TextIO

import openai

from pytest_toolcall.send.redaction import Redactor, api_error_text

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
EVENTS_PAGE = 50  # events asked for per request
MAX_EVENT_PAGES = 20  # pages read per poll looking for the last event already printed
MAX_MISSED_POLLS = 5
TRANSIENT = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.RateLimitError,
    openai.InternalServerError,
)


class FinetuneError(Exception):
    """A fine-tune that did not give a model; the message is one line, `status` the exit."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def resume_hint(job_id: str) -> str:
    return f"resume with: pytest-toolcall finetune --job {job_id}"


class JobFollower:
    """Reads one job and its events until it ends, printing what is new on `err`."""

    def __init__(
        self,
        client: openai.OpenAI,
        job_id: str,
        *,
        interval: float,
        err: TextIO,
        redactor: Redactor,
        wait: Callable[[float], None] | None = None,
    ) -> None:
        self.client = client
        self.job_id = job_id
        self.interval = interval
        self.err = err
        self.redactor = redactor
        self.wait = wait or (lambda seconds: sleep(seconds))
        self.seen: set[str] = set()
        self.status: str | None = None
        self.polls = 0

    def say(self, text: str) -> None:
        print(f"{self.job_id}: {self.redactor.mask(text)}", file=self.err, flush=True)

    def follow(self) -> Any:
        """The job once it has ended (raises FinetuneError when it cannot be read)."""
        missed = 0
        while True:
            self.polls += 1
            try:
                job = self.client.fine_tuning.jobs.retrieve(self.job_id)
                if job.status != self.status:
                    self.status = job.status
                    self.say(f"status {job.status}{_progress(job)}")
                self._print_new_events()
            except TRANSIENT as exc:
                missed += 1
                text = api_error_text(exc, self.redactor)
                if missed >= MAX_MISSED_POLLS:
                    raise FinetuneError(
                        f"fine-tuning job {self.job_id}: no answer in {missed} polls in a row "
                        f"({text}); it may still be running: {resume_hint(self.job_id)}"
                    ) from exc
                self.say(f"no answer this poll ({text}); trying again")
            except openai.APIStatusError as exc:
                raise FinetuneError(
                    f"fine-tuning job {self.job_id}: {api_error_text(exc, self.redactor)}"
                ) from exc
            else:
                missed = 0
                if job.status in TERMINAL:
                    return job
            self.wait(self.interval)

    def _print_new_events(self) -> None:
        """The events not printed yet, oldest first. The API lists newest first: pages are
        read until an event already printed (only the first page on the first poll, so a
        resumed job shows its latest events, not its whole history)."""
        page = self.client.fine_tuning.jobs.list_events(self.job_id, limit=EVENTS_PAGE)
        new = []
        for pages in range(1, MAX_EVENT_PAGES + 1):
            fresh = [event for event in page.data if event.id not in self.seen]
            new += fresh
            if len(fresh) < len(page.data) or not self.seen or pages == MAX_EVENT_PAGES:
                break
            if not page.has_next_page():
                break
            page = page.get_next_page()
        for event in reversed(new):
            self.seen.add(event.id)
            level = "" if event.level == "info" else f"{event.level}: "
            self.say(f"{level}{event.message}")


def _progress(job: Any) -> str:
    if job.status == "succeeded" and job.trained_tokens:
        return f" ({job.trained_tokens} tokens trained)"
    return ""


def ending_text(job: Any) -> str:
    """Why an ended job gave no model: `failed: Bad data (invalid_training_file)`."""
    if job.status == "failed":
        error = job.error
        message = getattr(error, "message", None) or "no reason given"
        code = getattr(error, "code", None)
        return f"failed: {message}" + (f" ({code})" if code else "")
    if job.status == "cancelled":
        return "was cancelled"
    return "succeeded but names no fine-tuned model"
