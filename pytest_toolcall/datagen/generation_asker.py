"""Asking the model through a cassette: each job asked again, naming the problem, until
its answer is usable or its retries are spent.

Every request goes through a cassette keyed by its body hash (record modes as for
`pytest`), so the same tools and options replay offline; a retry is a fresh request with
another sampling seed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_toolcall.cassettes import Cassette, CassetteError
from pytest_toolcall.datagen.generation_inputs import GenerateError
from pytest_toolcall.datagen.generation_prompts import GENERATOR_SYSTEM, RETRY_NOTE, AnswerProblem
from pytest_toolcall.send.answers import Answer, parse_completion
from pytest_toolcall.send.bodies import chat_completions_path, request_hash
from pytest_toolcall.send.transport import Exchange, Sender, SendSettings

GENERATION_PARAMS: Mapping[str, Any] = {"temperature": 0.7, "max_tokens": 1024}
SAVE_EVERY_S = 1.0


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
    """Runs jobs in rounds: every pending request of a round concurrently, via a cassette.

    Record modes as in `runner`: none/once/new_episodes replay what is recorded; once and
    new_episodes record what is missing, none refuses to; all and rewrite ask everything
    again, rewrite also drops recordings this run did not use.
    """

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
        self.sender = Sender(send)
        self.cassette = Cassette(cassette_file, redact=self.sender.redactor.mask)
        try:
            self.cassette.load()
        except CassetteError as exc:
            raise GenerateError(str(exc)) from None
        self.seed = seed
        self.retries = retries
        self.progress = progress or (lambda done, total: None)
        self.url = chat_completions_path(send.base_url)
        self.used: set[tuple[tuple[str, str, str], int]] = set()
        self.order: dict[str, int] = {}
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
        self._total += len(jobs)
        answers: dict[int, Answer] = {}
        replays = self.record_mode in ("none", "once", "new_episodes")
        for index, body in enumerate(bodies):
            key = Cassette.key("POST", self.url, request_hash(body))
            self.used.add((key, 0))
            found = self.cassette.find("POST", self.url, key[2], 0) if replays else None
            if found is not None:
                answers[index] = parse_completion(found.body, latency_ms=found.latency_ms)
        self.counts.replayed += len(answers)
        self._done += len(answers)
        self.progress(self._done, self._total)
        missing = [index for index in range(len(jobs)) if index not in answers]
        if missing:
            self._check_can_send(len(missing))
            asyncio.run(self._send([(i, bodies[i], jobs[i].label) for i in missing], answers))
        for index, job in enumerate(jobs):
            self._judge(job, answers[index])

    def _check_can_send(self, count: int) -> None:
        what = f"{count} generation request{'s' if count != 1 else ''}"
        if self.record_mode == "none":
            raise GenerateError(
                f"no recording for {what} in {self.cassette.path}; record them with "
                "--record-mode once (and OPENAI_API_KEY or --base-url)"
            )
        if not self.send.api_key and not self.send.base_url:
            raise GenerateError(
                f"{what} must be sent, but neither OPENAI_API_KEY nor --base-url "
                "(OPENAI_BASE_URL) is set"
            )

    async def _send(
        self, todo: Sequence[tuple[int, Mapping[str, Any], str]], answers: dict[int, Answer]
    ) -> None:
        last_save = time.monotonic()

        def on_done(position: int, answer: Answer, exchange: Exchange | None) -> None:
            nonlocal last_save
            index, _, label = todo[position]
            answers[index] = answer
            self.counts.sent += 1
            self._done += 1
            if exchange is not None:
                self.cassette.put(exchange, label, 0)
                if time.monotonic() - last_save > SAVE_EVERY_S:
                    self.save()
                    last_save = time.monotonic()
            self.progress(self._done, self._total)

        await self.sender.send_all([body for _, body, _ in todo], on_done)

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

    def save(self) -> None:
        """Write the cassette if it changed (atomically; `rewrite` drops unused ones)."""
        if self.record_mode == "rewrite":
            self.cassette.keep_only(self.used)
        if self.cassette.changed:
            self.cassette.save(self.order)
