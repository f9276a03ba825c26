"""Collection nodes: a case file, one item per case x model, one gate per suite x model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from pytest_toolcall.collect.casefile import Case, CaseFileError, Suite, relative_path
from pytest_toolcall.collect.suite_cache import CASE_TAG_MARKER, load_cached
from pytest_toolcall.judge.matching import Outcome

if TYPE_CHECKING:
    from pytest_toolcall.answering import CaseResult


class RunState(Protocol):
    """What items ask of the session's run state (`session.ToolcallSession`)."""

    strict: bool
    lists_tools_again: bool

    def mask(self, text: str) -> str: ...

    def models_for(self, suite: Suite, path: Path) -> list[str]: ...

    def case_result(self, item: CaseItem) -> CaseResult: ...

    def judge_gate(self, item: GateItem) -> str | None: ...


STATE_KEY = pytest.StashKey[RunState]()
TAG_MARKERS_KEY = pytest.StashKey[set[str]]()  # tags registered as markers already


class ToolcallFailure(Exception):
    """An item's failure whose message is all the user needs (no traceback)."""


class CaseError(ToolcallFailure):
    """The case has no answer (transport failure, missing recording, API error)."""


class CaseMissed(ToolcallFailure):
    """The model got the case wrong and --toolcall-strict is on."""


class GateFailed(ToolcallFailure):
    """A suite's accuracy (or a tag's) is under its threshold."""


class _ToolcallNode:
    """Shared by items: failures print their message, not our frames."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ToolcallFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)  # type: ignore[misc]

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, getattr(self, "lineno", None), self.name  # type: ignore[attr-defined]


class CaseFile(pytest.File):
    """A YAML case file: a suite."""

    suite: Suite

    def collect(self) -> Iterator[pytest.Item]:
        try:
            state = _state(self.config)
            self.suite = load_cached(
                self.config, self.path, self.config.rootpath, relist_mcp=state.lists_tools_again
            )
            models = state.models_for(self.suite, self.path)
        except CaseFileError as exc:
            exc.path = relative_path(self.path, self.config.invocation_params.dir)
            raise
        registered = self.config.stash.setdefault(TAG_MARKERS_KEY, set())
        for model in models:
            suffix = f"[{model.replace('::', ':')}]" if len(models) > 1 else ""
            for case in self.suite.cases:
                item = CaseItem.from_parent(
                    self, name=case.id + suffix, suite=self.suite, case=case, model=model
                )
                for tag in case.tags:
                    if tag not in registered:
                        registered.add(tag)
                        self.config.addinivalue_line("markers", CASE_TAG_MARKER.format(tag=tag))
                    item.add_marker(tag)
                yield item
            yield GateItem.from_parent(self, name="gate" + suffix, suite=self.suite, model=model)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, CaseFileError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class CaseItem(_ToolcallNode, pytest.Item):
    """One case against one model."""

    def __init__(self, *, suite: Suite, case: Case, model: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite, self.case, self.model = suite, case, model
        self.lineno = case.line - 1

    def runtest(self) -> None:
        state = _state(self.config)
        verdict = state.case_result(self).verdict
        # The detail may quote the answer (or an error body echoing the request): masked.
        if verdict.outcome is Outcome.ERROR:
            raise CaseError(state.mask(verdict.detail))
        if not verdict.passed and state.strict:
            raise CaseMissed(state.mask(f"{verdict.outcome.value}: {verdict.detail}"))


class GateItem(_ToolcallNode, pytest.Item):
    """The suite's accuracy gate for one model; runs after the suite's cases."""

    def __init__(self, *, suite: Suite, model: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite, self.model = suite, model
        self.lineno = 0

    def runtest(self) -> None:
        failure = _state(self.config).judge_gate(self)
        if failure:
            raise GateFailed(failure)


def _state(config: pytest.Config) -> RunState:
    return config.stash[STATE_KEY]
