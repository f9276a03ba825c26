"""Agent cases: the plugin plays the tool loop with scripted results, one turn at a time.

Send; judge the turn against its step; if it passes and the model called tools, append
the assistant turn and one scripted result per call (ids matching) and send again; stop
at the first failing step. After a last step that calls tools, the model must stop: one
more turn, which must call nothing. Each turn is its own request, so its own cassette
entry: replay follows the same path offline, and a changed earlier answer makes the later
turn "no recording", never a stale answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pytest_toolcall.judge.matching import Outcome, ToolCall, Verdict
from pytest_toolcall.judge.steps import (
    AFTER_LAST_STEP,
    in_step,
    judge_turn,
    scripted_result,
    unscripted,
)
from pytest_toolcall.recorder import Answered
from pytest_toolcall.send.answers import Answer

Message = Mapping[str, Any]
# (messages so far) -> the request body of the next turn, in the case's API
BodyFor = Callable[[Sequence[Message]], Mapping[str, Any]]
# (body, label suffix) -> the answer, as `Recorder.answer` gives it
Ask = Callable[[Mapping[str, Any], int], Answered]


@dataclass(frozen=True)
class StepRecord:
    """What one turn did: its outcome against its step and the calls it made."""

    outcome: str
    detail: str
    calls: tuple[ToolCall, ...]
    text: str | None


@dataclass(frozen=True)
class AgentOutcome:
    """One sample of an agent case: the last answer, the verdict, every turn's record."""

    answer: Answer
    verdict: Verdict
    steps: tuple[StepRecord, ...]


class AgentRun:
    """Plays one sample of an agent case; `done` gets its `AgentOutcome` exactly once."""

    def __init__(
        self,
        steps: Sequence[Mapping[str, Any]],
        results: Mapping[str, Any],
        tools: Mapping[str, Mapping[str, Any]],
        messages: Sequence[Message],
        *,
        body_for: BodyFor,
        ask: Ask,
        done: Callable[[AgentOutcome], None],
    ) -> None:
        self.steps, self.results, self.tools = steps, results, tools
        self.messages = list(messages)
        self.body_for, self.ask, self.done = body_for, ask, done
        self.records: list[StepRecord] = []
        self.answers: list[Answer] = []  # every turn's but the last

    def start(self) -> None:
        self._turn(0)

    def _turn(self, index: int) -> None:
        try:
            future = self.ask(self.body_for(self.messages), index)
        except Exception as exc:  # the case's error, never the run's
            self._finish(Answer(error=str(exc)), Verdict(Outcome.ERROR, f"turn {index + 1}: {exc}"))
            return
        future.add_done_callback(lambda answered: self._answered(index, answered.result()))

    def _answered(self, index: int, answer: Answer) -> None:
        count = len(self.steps)
        if answer.error is not None:
            self._finish(answer, in_step(Verdict(Outcome.ERROR, answer.error), index, count))
            return
        step = self.steps[index] if index < count else AFTER_LAST_STEP
        verdict = in_step(judge_turn(step, answer.calls, answer.text, self.tools), index, count)
        self.records.append(
            StepRecord(verdict.outcome.value, verdict.detail, answer.calls, answer.text)
        )
        if not verdict.passed or not answer.calls:
            # a failing step ends the case; a passing turn without calls is the final answer
            self._finish(answer, verdict if not verdict.passed else Verdict(Outcome.PASS))
            return
        ids = [call.id or f"call_{index + 1}_{n + 1}" for n, call in enumerate(answer.calls)]
        outputs = []
        for call in answer.calls:
            output = scripted_result(self.results, call)
            if output is None:
                self._finish(answer, in_step(unscripted(call), index, count))
                return
            outputs.append(output)
        self.answers.append(answer)
        self.messages.append(_assistant_turn(answer, ids))
        self.messages += [
            {"role": "tool", "tool_call_id": call_id, "content": output}
            for call_id, output in zip(ids, outputs, strict=True)
        ]
        self._turn(index + 1)

    def _answered_turns(self, answer: Answer) -> Answer:
        """The last answer, with latency and tokens summed over every turn: an agent case
        costs all its requests."""
        self.answers.append(answer)
        totals = {
            name: sum(values)
            if (values := [getattr(a, name) for a in self.answers if getattr(a, name) is not None])
            else None
            for name in ("latency_ms", "total_tokens", "prompt_tokens", "completion_tokens")
        }
        return replace(answer, **totals)

    def _finish(self, answer: Answer, verdict: Verdict) -> None:
        self.done(AgentOutcome(self._answered_turns(answer), verdict, tuple(self.records)))


def _assistant_turn(answer: Answer, ids: Sequence[str]) -> Message:
    """The model's own turn, as the next request repeats it (Chat form; the Responses body
    builder turns it into `function_call` items)."""
    return {
        "role": "assistant",
        "content": answer.text,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call_id, call in zip(ids, answer.calls, strict=True)
        ],
    }
