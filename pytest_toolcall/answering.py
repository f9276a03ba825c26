"""One suite x model in a run: a request per selected case sample, each answer judged.

Requests are handed to a `Recorder` as soon as the run starts; an item then waits only for
its own case's answers (`result`), and a gate for its suite's (`results`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from pytest_toolcall.collect.casefile import Case, Suite
from pytest_toolcall.judge import matching
from pytest_toolcall.judge.matching import Outcome, Verdict
from pytest_toolcall.recorder import Recorder
from pytest_toolcall.send.answers import Answer
from pytest_toolcall.send.bodies import build_request, canonical_json, request_hash

OUTCOME_ORDER = list(Outcome)  # worst first


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
        return min((s.verdict for s in self.samples), key=lambda v: OUTCOME_ORDER.index(v.outcome))


def judge(case: Case, answer: Answer) -> Verdict:
    """The verdict on one answer; an answer that is not one is an `error`, never a miss."""
    if answer.error is not None:
        return Verdict(Outcome.ERROR, answer.error)
    return matching.judge(case.expect, answer.calls, case.tool_parameters)


class SuiteAnswers:
    """The selected cases of one suite x model: their requests, answers and verdicts."""

    def __init__(
        self,
        suite: Suite,
        model: str,
        recorder: Recorder,
        *,
        repeat: int,
        record_hint: Mapping[str, str],
    ) -> None:
        self.suite, self.model, self.recorder, self.repeat = suite, model, recorder, repeat
        self.record_hint = record_hint  # case id -> the command that records it
        self._futures: dict[str, list[Future[Answer]]] = {}
        self._hashes: dict[str, str] = {}
        self._results: dict[str, CaseResult] = {}
        # cases share their suite's tools: encoded once per API
        self._tools_json: dict[tuple[int, str], str] = {}

    def submit(self, cases: Sequence[Case]) -> None:
        """Hand every sample of `cases` to the recorder, once (later calls are no-ops)."""
        for case in cases:
            if case.id not in self._futures:
                self._futures[case.id] = self._submit(case)

    def _submit(self, case: Case) -> list[Future[Answer]]:
        try:
            body = build_request(case, self.model)
            body_hash = self._hashes[case.id] = self._hash(case, body)
        except Exception as exc:  # the case's error, never the whole run's
            self._hashes[case.id] = ""
            failed: Future[Answer] = Future()
            failed.set_result(Answer(error=f"cannot build the request: {exc}"))
            return [failed] * self.repeat
        what = f"case {case.id} of suite {self.suite.name}, model {self.model}"
        if case.api != "chat":
            what += f", {case.api} API"
        hint = self.record_hint[case.id]
        return [
            self.recorder.answer(body, body_hash, case.id, sample, what=what, hint=hint)
            for sample in range(self.repeat)
        ]

    def _hash(self, case: Case, body: Mapping[str, Any]) -> str:
        if not case.tools:
            return request_hash(body)
        key = (id(case.tools), case.api)  # the tools as sent: each API has its own form
        known = self._tools_json.get(key)
        if known is None:
            known = self._tools_json[key] = canonical_json(body["tools"])
        return request_hash(body, known={"tools": known})

    def result(self, case: Case) -> CaseResult:
        """The case's answers, judged: waits for them (submitting first if need be)."""
        if (known := self._results.get(case.id)) is not None:
            return known
        self.submit([case])
        samples = []
        for future in self._futures[case.id]:
            answer = future.result()
            samples.append(Sample(answer, judge(case, answer)))
        result = CaseResult(case, self.model, self._hashes[case.id], samples)
        self._results[case.id] = result
        return result

    def known_result(self, case: Case) -> CaseResult | None:
        """The case's result if an item has waited for it already."""
        return self._results.get(case.id)

    def results(self) -> list[CaseResult]:
        """Every case of the suite, judged (a gate judges its whole suite)."""
        self.submit(self.suite.cases)
        return [self.result(case) for case in self.suite.cases]
