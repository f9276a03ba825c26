"""Asking the model through a cassette: each job asked again, naming the problem, until
its answer is usable or its retries are spent.

Every request goes through a cassette keyed by its body hash (record modes as for
`pytest`), so the same tools and options replay offline; a retry is a fresh request with
another sampling seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_toolcall.datagen.generation_inputs import GenerateError
from pytest_toolcall.datagen.generation_prompts import GENERATOR_SYSTEM, RETRY_NOTE, AnswerProblem
from pytest_toolcall.engine import Engine
from pytest_toolcall.recorder import Recorder, RecordPolicy, in_arrival_order
from pytest_toolcall.send.answers import Answer
from pytest_toolcall.send.bodies import chat_completions_path, request_hash
from pytest_toolcall.send.transport import SendSettings

GENERATION_PARAMS: Mapping[str, Any] = {"temperature": 0.7, "max_tokens": 1024}
RECORD_HINT = "with --record-mode once (and OPENAI_API_KEY or --base-url)"


@dataclass
class Job:
    """One thing to ask the model for, asked again (naming the problem) until usable."""

    label: str
    prompt: str
    parse: Callable[[str | None], Any]
    problems: list[str] = field(default_factory=list)  # why earlier answers were unusable
    result: Any = None
    failure: str | None = None
    shortfall: str | None = None  # kept a usable part of the last answer; why not all of it

    @property
    def done(self) -> bool:
        return self.result is not None or self.failure is not None

    def body(self, model: str, seed: int) -> dict[str, Any]:
        """The request of the next attempt: a retry is the same task with the last problem
        added and another sampling seed (small models repeat a bad answer they are shown)."""
        prompt = self.prompt
        if self.problems:
            note = RETRY_NOTE.format(attempt=len(self.problems) + 1, problem=self.problems[-1])
            prompt += "\n\n" + note
        messages = [
            {"role": "system", "content": GENERATOR_SYSTEM},
            {"role": "user", "content": prompt},
        ]
        return {
            "model": model,
            "messages": messages,
            **GENERATION_PARAMS,
            "seed": seed + len(self.problems),
        }


Progress = Callable[[int, int], None]  # (done, total) requests


@dataclass
class Counts:
    """Requests answered from the cassette, sent, and asked again."""

    replayed: int = 0
    sent: int = 0
    retried: int = 0


class Asker:
    """Runs jobs in rounds: every pending request of a round in flight at once, through the
    run engine and a `Recorder`, the replay-or-record loop the plugin uses (so the record
    modes mean the same: none/once/new_episodes replay what is recorded, once and
    new_episodes send what is missing, all and rewrite ask again)."""

    def __init__(
        self,
        model: str,
        cassette_file: Path,
        record_mode: str,
        send: SendSettings,
        *,
        seed: int,
        retries: int,
        progress: Progress | None = None,
    ) -> None:
        self.model = model
        self.record_mode = record_mode
        self.send = send
        self.engine = Engine(send)
        self.order: dict[str, int] = {}
        self.recorder = Recorder(
            cassette_file,
            RecordPolicy(record_mode),
            lambda body, _hash, _sample, on_answer: self.engine.submit(body, on_answer),
            url=chat_completions_path(send.base_url),
            redactor=self.engine.sender.redactor,
            order=self.order,
        )
        if self.recorder.broken is not None:
            raise GenerateError(self.recorder.broken)
        self.cassette_path = cassette_file
        self.seed = seed
        self.retries = retries
        self.progress = progress or (lambda done, total: None)
        self.counts = Counts()
        self._done = 0
        self._total = 0

    def run(self, jobs: Sequence[Job]) -> None:
        """Until every job has a result or a failure."""
        for job in jobs:
            self.order.setdefault(job.label, len(self.order))
        while pending := [job for job in jobs if not job.done]:
            self._round(pending)

    def _round(self, jobs: Sequence[Job]) -> None:
        bodies = [job.body(self.model, self.seed) for job in jobs]
        hashes = [request_hash(body) for body in bodies]
        self._total += len(jobs)
        missing = sum(not self.recorder.replays(body_hash, 0) for body_hash in hashes)
        if missing:
            self._check_can_send(missing)
        futures = {
            self.recorder.answer(
                body, body_hash, job.label, 0, what=f"request {job.label}", hint=RECORD_HINT
            ): index
            for index, (job, body, body_hash) in enumerate(zip(jobs, bodies, hashes, strict=True))
        }
        self.counts.replayed += len(jobs) - missing
        self.counts.sent += missing
        answers: dict[int, Answer] = {}
        for future in in_arrival_order(futures):  # progress (and Ctrl-C) in this thread
            answers[futures[future]] = future.result()
            self._done += 1
            self.progress(self._done, self._total)
        for index, job in enumerate(jobs):
            self._judge(job, answers[index])

    def _check_can_send(self, count: int) -> None:
        what = f"{count} generation request{'s' if count != 1 else ''}"
        if self.record_mode == "none":
            raise GenerateError(
                f"no recording for {what} in {self.cassette_path}; record them with "
                "--record-mode once (and OPENAI_API_KEY or --base-url)"
            )
        if not self.send.api_key and not self.send.base_url:
            raise GenerateError(
                f"{what} must be sent, but neither OPENAI_API_KEY nor --base-url "
                "(OPENAI_BASE_URL) is set"
            )

    def _judge(self, job: Job, answer: Answer) -> None:
        if answer.error is not None:
            job.failure = answer.error
            return
        try:
            job.result = job.parse(answer.text)
        except AnswerProblem as problem:
            if len(job.problems) < self.retries:
                job.problems.append(str(problem))
                self.counts.retried += 1
            else:
                tries = len(job.problems) + 1
                why = f"{problem} (after {tries} attempt{'s' if tries > 1 else ''})"
                if problem.partial is not None:
                    job.result, job.shortfall = problem.partial, why
                else:
                    job.failure = why

    def save(self, *, complete: bool) -> None:
        """Let what is in flight arrive, then write what was recorded (`rewrite` drops
        unused recordings only when the run was complete)."""
        try:
            self.engine.close()
        finally:
            self.recorder.close(complete=complete)
