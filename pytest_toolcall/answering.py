"""One suite x model in a run: a request per selected case sample, each answer judged.

Requests are handed to a `Recorder` as soon as the run starts; an item then waits only for
its own case's answers (`result`), and a gate for its suite's (`results`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_toolcall.agent_loop import AgentOutcome, AgentRun, StepRecord
from pytest_toolcall.collect.casefile import Case, Suite
from pytest_toolcall.judge import matching
from pytest_toolcall.judge.matching import Outcome, Verdict
from pytest_toolcall.recorder import Answered, Recorder, Settled
from pytest_toolcall.send.answers import Answer
from pytest_toolcall.send.bodies import build_request, canonical_json, request_hash

OUTCOME_ORDER = list(Outcome)  # worst first


@dataclass(frozen=True)
class Sample:
    """One answer to a case and its verdict (an agent case's: its last turn's, and every
    turn's record)."""

    answer: Answer
    verdict: Verdict
    steps: tuple[StepRecord, ...] = ()


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
        self._futures: dict[str, list[Answered] | list[Future[AgentOutcome]]] = {}
        self._hashes: dict[str, str] = {}
        self._results: dict[str, CaseResult] = {}
        # cases share their suite's tools: encoded once per API
        self._tools_json: dict[tuple[int, str], str] = {}

    def submit(self, cases: Sequence[Case]) -> None:
        """Hand every sample of `cases` to the recorder, once (later calls are no-ops)."""
        for case in cases:
            if case.id not in self._futures:
                self._futures[case.id] = self._submit(case)

    def _submit(self, case: Case) -> list[Answered] | list[Future[AgentOutcome]]:
        if "steps" in case.expect:
            return self._submit_agent(case)
        try:
            body = build_request(case, self.model)
            body_hash = self._hashes[case.id] = self._hash(case, body)
        except Exception as exc:  # the case's error, never the whole run's
            self._hashes[case.id] = ""
            return [Settled(Answer(error=f"cannot build the request: {exc}"))] * self.repeat
        what = self._what(case)
        hint = self.record_hint[case.id]
        return [
            self.recorder.answer(body, body_hash, case.id, sample, what=what, hint=hint)
            for sample in range(self.repeat)
        ]

    def _what(self, case: Case) -> str:
        what = f"case {case.id} of suite {self.suite.name}, model {self.model}"
        return what if case.api == "chat" else f"{what}, {case.api} API"

    def _submit_agent(self, case: Case) -> list[Future[AgentOutcome]]:
        """Every sample of an agent case, played turn by turn (see `agent_loop`)."""
        hint, what = self.record_hint[case.id], self._what(case)

        def body_for(messages: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
            return build_request(replace(case, messages=tuple(messages)), self.model)

        outcomes: list[Future[AgentOutcome]] = []
        for sample in range(self.repeat):

            def ask(body: Mapping[str, Any], turn: int, sample: int = sample) -> Answered:
                body_hash = self._hash(case, body)
                self._hashes.setdefault(case.id, body_hash)  # the first turn's names the case
                return self.recorder.answer(
                    body, body_hash, case.id, sample, what=f"{what}, turn {turn + 1}", hint=hint
                )

            outcome: Future[AgentOutcome] = Future()
            steps = case.expect["steps"]
            AgentRun(
                steps,
                case.tool_results,
                case.tool_parameters,
                case.messages,
                body_for=body_for,
                ask=ask,
                done=outcome.set_result,
            ).start()
            outcomes.append(outcome)
        return outcomes

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
            answered = future.result()
            if isinstance(answered, AgentOutcome):
                samples.append(Sample(answered.answer, answered.verdict, answered.steps))
            else:
                samples.append(Sample(answered, judge(case, answered)))
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
