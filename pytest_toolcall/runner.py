"""One suite x model: answer every selected case (cassette or live), judge each answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pytest_toolcall.cassettes import Cassette, CassetteError, cassette_path
from pytest_toolcall.collect.casefile import Case, Suite
from pytest_toolcall.judge import matching
from pytest_toolcall.judge.matching import Outcome, Verdict
from pytest_toolcall.send.answers import Answer, parse_completion
from pytest_toolcall.send.bodies import (
    CHAT_COMPLETIONS_PATH,
    build_request,
    canonical_json,
    request_hash,
)
from pytest_toolcall.send.transport import Exchange, Sender, SendSettings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SAVE_EVERY_S = 1.0


@dataclass(frozen=True)
class RunSettings:
    """Everything about a run that is the same for every suite."""

    send: SendSettings
    record_mode: str = "none"
    live: bool = False
    repeat: int = 1
    extra_scrubbed_headers: tuple[str, ...] = ()

    @property
    def records(self) -> bool:
        return self.live or self.record_mode != "none"


@dataclass(frozen=True)
class Sample:
    """One answer to a case and its verdict."""

    answer: Answer
    verdict: Verdict


@dataclass
class CaseResult:
    """Every sample of one case against one model."""

    case: Case
    model: str
    request_hash: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def passes(self) -> int:
        return sum(sample.verdict.passed for sample in self.samples)

    @property
    def verdict(self) -> Verdict:
        """The worst sample's verdict (the case passes only if every sample does)."""
        order = list(Outcome)
        return min((s.verdict for s in self.samples), key=lambda v: order.index(v.outcome))


@dataclass
class Batch:
    """The selected cases of one suite x model, and what happens to them in this run."""

    suite: Suite
    model: str
    cases: Sequence[Case]
    record_command: Callable[[Case], str]
    results: dict[str, CaseResult] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[tuple[str, int], Answer] = field(default_factory=dict)
    cassette: Cassette | None = None
    last_save: float = 0.0

    def no_recording(self, case: Case) -> str:
        return (
            f"no recording for case {case.id} of suite {self.suite.name}, model {self.model}: "
            f"record it with OPENAI_API_KEY set: {self.record_command(case)}"
        )


def run_batches(batches: Sequence[Batch], settings: RunSettings) -> None:
    """Answer and judge every batch, all requests of all batches in one concurrent round.

    One event loop, one client and one bound on requests in flight serve every suite, so
    ten files of 100 cases take as long as one file of 1000. Whatever was recorded is
    saved, even on Ctrl-C.
    """
    sender = Sender(settings.send)
    url = urlsplit(settings.send.base_url or DEFAULT_BASE_URL).path.rstrip("/")
    url += CHAT_COMPLETIONS_PATH
    to_send: list[tuple[Batch, Case, int]] = []
    for batch in batches:
        to_send += _prepare(batch, settings, sender, url)
    try:
        if to_send:
            asyncio.run(_send(sender, to_send, settings))
    finally:
        for batch in batches:
            if batch.cassette is not None:
                _save(batch, settings, url)
    for batch in batches:
        for (case_id, _), answer in sorted(batch.answers.items(), key=lambda item: item[0][1]):
            result = batch.results[case_id]
            result.samples.append(Sample(answer, _judge(result.case, answer)))


def _prepare(
    batch: Batch, settings: RunSettings, sender: Sender, url: str
) -> list[tuple[Batch, Case, int]]:
    """Answer what the cassette holds; return the (batch, case, sample) still to send."""
    tools_json: dict[int, str] = {}  # cases share their suite's tools: encode them once
    for case in batch.cases:
        body = batch.bodies[case.id] = build_request(case, batch.model)
        if case.tools and id(case.tools) not in tools_json:
            tools_json[id(case.tools)] = canonical_json(body["tools"])
        known = {"tools": tools_json[id(case.tools)]} if case.tools else None
        batch.results[case.id] = CaseResult(case, batch.model, request_hash(body, known=known))
    if not settings.live:
        path = cassette_path(batch.suite.path, batch.model)
        batch.cassette = Cassette(path, settings.extra_scrubbed_headers, sender.redactor.mask)
        try:
            batch.cassette.load()
        except CassetteError as exc:
            batch.cassette = None
            for case in batch.cases:
                for sample in range(settings.repeat):
                    batch.answers[case.id, sample] = Answer(error=str(exc))
            return []
    replays = settings.record_mode in ("none", "once", "new_episodes") and not settings.live
    to_send = []
    for case in batch.cases:
        body_hash = batch.results[case.id].request_hash
        for sample in range(settings.repeat):
            found = (
                replays and batch.cassette and batch.cassette.find("POST", url, body_hash, sample)
            )
            if found:
                answer = parse_completion(found.body, latency_ms=found.latency_ms)
            elif settings.records:
                to_send.append((batch, case, sample))
                continue
            else:
                answer = Answer(error=batch.no_recording(case))
            batch.answers[case.id, sample] = answer
    return to_send


def _judge(case: Case, answer: Answer) -> Verdict:
    if answer.error is not None:
        return Verdict(Outcome.ERROR, answer.error)
    return matching.judge(case.expect, answer.calls, case.tool_parameters)


async def _send(
    sender: Sender, to_send: Sequence[tuple[Batch, Case, int]], settings: RunSettings
) -> None:
    def on_done(index: int, answer: Answer, exchange: Exchange | None) -> None:
        batch, case, sample = to_send[index]
        batch.answers[case.id, sample] = answer
        if exchange is not None and batch.cassette is not None:
            batch.cassette.put(exchange, case.id, sample)
            if time.monotonic() - batch.last_save > SAVE_EVERY_S:
                batch.cassette.save(_case_order(batch.suite))
                batch.last_save = time.monotonic()

    bodies = [batch.bodies[case.id] for batch, case, _ in to_send]
    await sender.send_all(bodies, on_done)


def _save(batch: Batch, settings: RunSettings, url: str) -> None:
    assert batch.cassette is not None
    if settings.record_mode == "rewrite":
        batch.cassette.keep_only(
            {
                (Cassette.key("POST", url, result.request_hash), sample)
                for result in batch.results.values()
                for sample in range(settings.repeat)
            }
        )
    if batch.cassette.changed:
        batch.cassette.save(_case_order(batch.suite))


def _case_order(suite: Suite) -> dict[str, int]:
    return {case.id: index for index, case in enumerate(suite.cases)}
