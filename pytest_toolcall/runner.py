"""One suite x model: answer every selected case (cassette or live), judge each answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pytest_toolcall import matching
from pytest_toolcall.casefile import Case, Suite
from pytest_toolcall.cassettes import Cassette, CassetteError, cassette_path
from pytest_toolcall.client import (
    CHAT_COMPLETIONS_PATH,
    Answer,
    Exchange,
    Sender,
    SendSettings,
    build_request,
    parse_completion,
    request_hash,
)
from pytest_toolcall.matching import Outcome, Verdict

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
    def errored(self) -> bool:
        return any(sample.verdict.outcome is Outcome.ERROR for sample in self.samples)

    @property
    def verdict(self) -> Verdict:
        """The worst sample's verdict (the case passes only if every sample does)."""
        order = list(Outcome)
        return min((s.verdict for s in self.samples), key=lambda v: order.index(v.outcome))


def run_suite(
    suite: Suite,
    cases: Sequence[Case],
    model: str,
    settings: RunSettings,
    record_command: Callable[[Case], str],
) -> dict[str, CaseResult]:
    """Answer and judge `cases` of `suite` for `model`; saves what was recorded, even on Ctrl-C."""
    sender = Sender(settings.send)
    cassette = Cassette(
        cassette_path(suite.path, model), settings.extra_scrubbed_headers, sender.redact
    )
    results = {
        case.id: CaseResult(case, model, request_hash(build_request(case, model))) for case in cases
    }
    answers: dict[tuple[str, int], Answer] = {}
    if not settings.live:
        try:
            cassette.load()
        except CassetteError as exc:
            return _all_errors(results, settings.repeat, str(exc))
    path = urlsplit(settings.send.base_url or DEFAULT_BASE_URL).path.rstrip("/")
    url = path + CHAT_COMPLETIONS_PATH
    replays = settings.record_mode in ("none", "once", "new_episodes") and not settings.live
    to_send: list[tuple[Case, int]] = []
    for case in cases:
        for sample in range(settings.repeat):
            found = replays and cassette.find("POST", url, results[case.id].request_hash, sample)
            if found:
                answers[case.id, sample] = parse_completion(found.body, latency_ms=found.latency_ms)
            elif settings.records:
                to_send.append((case, sample))
            else:
                answers[case.id, sample] = Answer(
                    error=_no_recording(case, suite, model, record_command)
                )
    try:
        if to_send:
            asyncio.run(_send(sender, to_send, model, cassette, answers, settings, suite))
    finally:
        if not settings.live:
            _save(cassette, suite, settings, results, url)
    for (case_id, _), answer in sorted(answers.items(), key=lambda item: item[0][1]):
        result = results[case_id]
        result.samples.append(Sample(answer, _judge(result.case, answer)))
    return results


def _judge(case: Case, answer: Answer) -> Verdict:
    if answer.error is not None:
        return Verdict(Outcome.ERROR, answer.error)
    return matching.judge(case.expect, answer.calls, case.tool_parameters)


def _no_recording(
    case: Case, suite: Suite, model: str, record_command: Callable[[Case], str]
) -> str:
    return (
        f"no recording for case {case.id} of suite {suite.name}, model {model}: "
        f"record it with OPENAI_API_KEY set: {record_command(case)}"
    )


def _all_errors(results: dict[str, CaseResult], repeat: int, message: str) -> dict[str, CaseResult]:
    for result in results.values():
        result.samples = [Sample(Answer(error=message), Verdict(Outcome.ERROR, message))] * repeat
    return results


async def _send(
    sender: Sender,
    to_send: Sequence[tuple[Case, int]],
    model: str,
    cassette: Cassette,
    answers: dict[tuple[str, int], Answer],
    settings: RunSettings,
    suite: Suite,
) -> None:
    last_save = time.monotonic()

    def on_done(index: int, answer: Answer, exchange: Exchange | None) -> None:
        nonlocal last_save
        case, sample = to_send[index]
        answers[case.id, sample] = answer
        if exchange is not None and not settings.live:
            cassette.put(exchange, case.id, sample)
            if time.monotonic() - last_save > SAVE_EVERY_S:
                cassette.save(_case_order(suite))
                last_save = time.monotonic()

    bodies = [build_request(case, model) for case, _ in to_send]
    await sender.send_all(bodies, on_done)


def _save(
    cassette: Cassette,
    suite: Suite,
    settings: RunSettings,
    results: Mapping[str, CaseResult],
    url: str,
) -> None:
    if settings.record_mode == "rewrite":
        cassette.keep_only(
            {
                (Cassette.key("POST", url, result.request_hash), sample)
                for result in results.values()
                for sample in range(settings.repeat)
            }
        )
    if cassette.changed:
        cassette.save(_case_order(suite))


def _case_order(suite: Suite) -> dict[str, int]:
    return {case.id: index for index, case in enumerate(suite.cases)}
