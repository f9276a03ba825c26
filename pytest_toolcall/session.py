"""Run state for one pytest session: which cases run, their answers as they arrive, gates.

Registered as a plugin by `plugin.pytest_configure`. Right after collection every selected
request is handed to the engine in item order; each item then waits only for its own
answers, so results stream as they arrive and an item's duration is its own wait.
"""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_toolcall.answering import CaseResult, SuiteAnswers
from pytest_toolcall.cassettes import CassetteError, cassette_path
from pytest_toolcall.collect.casefile import Case, CaseFileError, Suite
from pytest_toolcall.nodes import CaseItem, GateItem
from pytest_toolcall.recorder import Recorder, RecordPolicy
from pytest_toolcall.report.formatting import format_actual, format_expected
from pytest_toolcall.report.gates import gate_failure_text, gate_record
from pytest_toolcall.report.outputs import Gating, Outputs, write_outputs
from pytest_toolcall.report.records import case_record
from pytest_toolcall.report.render import Section, write_terminal
from pytest_toolcall.send.batch import BatchSender, BatchSettings
from pytest_toolcall.send.bodies import chat_completions_path
from pytest_toolcall.send.redaction import Redactor
from pytest_toolcall.send.transport import SendSettings
from pytest_toolcall.xdist_sharing import WORKERINPUT_KEY, SharedAnswers

if TYPE_CHECKING:
    from pytest_toolcall.engine import Engine

GATE_KEY = pytest.StashKey[tuple[dict[str, Any], list[dict[str, Any]]]]()
SelectionKey = tuple[Path, str]


@dataclass(frozen=True)
class RunSettings:
    """Everything about a run that is the same for every suite."""

    send: SendSettings
    policy: RecordPolicy = RecordPolicy()
    repeat: int = 1
    extra_scrubbed_headers: tuple[str, ...] = ()
    batch: BatchSettings | None = None  # --toolcall-batch: record through the Batch API


@dataclass
class _Selection:
    """What this session runs of one suite x model, and its answers once submitted."""

    suite: Suite
    model: str
    file_id: str  # the case file's node id: reports and the record command use it
    case_ids: set[str] = field(default_factory=set)
    gate_selected: bool = False
    answers: SuiteAnswers | None = None

    @property
    def cases(self) -> list[Case]:
        # A gate judges its whole suite, so a selected gate brings every case along.
        return [c for c in self.suite.cases if self.gate_selected or c.id in self.case_ids]


class ToolcallSession:
    """Registered as a plugin: answers the selected cases and reports them."""

    def __init__(
        self,
        config: pytest.Config,
        *,
        settings: RunSettings,
        models: list[str],
        strict: bool,
        gating: Gating,
        outputs: Outputs,
    ) -> None:
        self.config = config
        self.settings = settings
        self.models = models
        self.strict = strict
        self.gating = gating
        self.outputs = outputs
        self.redactor = Redactor.for_run(
            settings.send.api_key, settings.send.headers, settings.extra_scrubbed_headers
        )
        self.sections: list[Section] = []
        self.problems: list[str] = []  # recordings that could not be saved
        self.case_records: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.gate_records: dict[tuple[str, str], dict[str, Any]] = {}
        self._selections: dict[SelectionKey, _Selection] = {}
        self._records: dict[int, tuple[CaseResult, dict[str, Any]]] = {}
        self._cassette_owners: dict[Path, Path] = {}
        self._engine: Engine | None = None
        self._batch = (
            BatchSender(settings.send, settings.batch, self.redactor) if settings.batch else None
        )
        self._session: pytest.Session | None = None
        self._shared_dir: Path | None = None  # the controller's, under pytest-xdist
        workerinput = getattr(config, "workerinput", None)
        self._shared = (
            SharedAnswers(Path(workerinput[WORKERINPUT_KEY]))
            if workerinput and WORKERINPUT_KEY in workerinput
            else None
        )

    # -- collection ------------------------------------------------------------------

    def models_for(self, suite: Suite, path: Path) -> list[str]:
        """The models a case file runs against; each must get a cassette of its own."""
        models = self.models or ([suite.model] if suite.model else [])
        if not models:
            raise CaseFileError(
                path,
                "no model to run: pass --model=NAME, set toolcall_model in the ini file, "
                "or put 'model:' in the case file",
            )
        for model in models:
            cassette = cassette_path(path, model)
            other = self._cassette_owners.setdefault(cassette, path)
            if other != path:
                raise CaseFileError(
                    path,
                    f"its cassette {cassette} would also be the cassette of {other} "
                    "(same folder and stem): rename one of the two files",
                )
        return models

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Note which cases (and gates) were selected after -k/-m/--lf deselection."""
        self._selections.clear()
        for item in items:
            if isinstance(item, CaseItem | GateItem):
                selection = self._selections.setdefault(
                    (item.path, item.model),
                    _Selection(item.suite, item.model, item.nodeid.split("::")[0]),
                )
                if isinstance(item, CaseItem):
                    selection.case_ids.add(item.case.id)
                else:
                    selection.gate_selected = True

    # -- running ---------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session = session

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Every selected request in flight before the first item runs, in item order.

        An xdist worker cannot know which items it will be given: it starts a suite's
        requests at the suite's first item there (see `xdist_sharing`)."""
        if session.config.option.collectonly or self._shared is not None:
            return
        for selection in self._selections.values():
            self._answers(selection)
        if self._batch is not None:  # every answer in before the first item runs
            self._batch.run(self.config.pluginmanager.get_plugin("terminalreporter"))

    def _answers(self, selection: _Selection) -> SuiteAnswers:
        if selection.answers is None:
            selection.answers = SuiteAnswers(
                selection.suite,
                selection.model,
                self._recorder(selection),
                repeat=self.settings.repeat,
                record_hint={c.id: self._record_hint(selection, c) for c in selection.cases},
            )
            selection.answers.submit(selection.cases)
        return selection.answers

    def _recorder(self, selection: _Selection) -> Recorder:
        recorder: Recorder

        def send(body: Any, body_hash: str, sample: int, on_answer: Any) -> None:
            if self._batch is not None:
                self._batch.submit(
                    cassette_path(selection.suite.path, selection.model),
                    recorder.url_for(body),
                    body,
                    body_hash,
                    sample,
                    on_answer,
                    file=selection.file_id,
                )
                return
            if self._shared is None:
                self._start_engine().submit(body, on_answer)
                return
            recorder.writes = self._shared.send(
                (selection.file_id, selection.model, body_hash, sample),
                body,
                on_answer,
                submit=lambda body, on_answer: self._start_engine().submit(body, on_answer),
            )

        recorder = Recorder(
            cassette_path(selection.suite.path, selection.model),
            self.settings.policy,
            send,
            url=chat_completions_path(self.settings.send.base_url),
            redactor=self.redactor,
            scrubbed_headers=self.settings.extra_scrubbed_headers,
            order={case.id: index for index, case in enumerate(selection.suite.cases)},
        )
        return recorder

    def _start_engine(self) -> Engine:
        if self._engine is None:
            from pytest_toolcall.engine import Engine  # (asyncio: only a run that sends)

            self._engine = Engine(self.settings.send, self.redactor)
        return self._engine

    def _record_hint(self, selection: _Selection, case: Case) -> str:
        """How to record one case, pointing at the server the run uses (a bare command
        would send to OpenAI a request recorded from a local server)."""
        args = ["pytest", f"{selection.file_id}::{case.id}", f"--model={selection.model}"]
        if api := self.outputs.options.get("api"):
            args.append(f"--toolcall-api={api}")
        base_url = self.settings.send.base_url
        if base_url:
            args.append(f"--toolcall-base-url={base_url}")
        command = shlex.join([*args, "--record-mode=once"])
        return f"from {base_url}: {command}" if base_url else f"with OPENAI_API_KEY set: {command}"

    @property
    def lists_tools_again(self) -> bool:
        """Whether tools from MCP servers are listed again (any run that records)."""
        return self.settings.policy.sends

    def mask(self, text: str) -> str:
        """`text` with the run's credentials masked, for what the terminal shows."""
        return self.redactor.mask(text)

    def _selection(self, item: CaseItem | GateItem) -> _Selection:
        return self._selections[item.path, item.model]

    def case_result(self, item: CaseItem) -> CaseResult:
        return self._answers(self._selection(item)).result(item.case)

    def judge_gate(self, item: GateItem) -> str | None:
        """None when the gate holds; otherwise why it does not."""
        results = self._answers(self._selection(item)).results()
        records = [self._record(result, item) for result in results]
        override = self.gating.threshold_override
        gate = gate_record(
            records,
            threshold=item.suite.threshold if override is None else override,
            tag_thresholds=item.suite.tag_thresholds,
            use_lower_bound=self.gating.use_lower_bound,
        )
        file_id = item.nodeid.split("::")[0]
        gate.update(suite=item.suite.name, file=file_id, model=item.model, nodeid=item.nodeid)
        item.stash[GATE_KEY] = (gate, records)
        if gate["passed"]:
            return None
        return gate_failure_text(item.suite.name, item.model, gate, records)

    def _record(self, result: CaseResult, item: CaseItem | GateItem) -> dict[str, Any]:
        """The case's record, built once (its item and its gate both report it)."""
        if (known := self._records.get(id(result))) is not None:
            return known[1]
        file_id = item.nodeid.split("::")[0]
        # the "[model]" an item name carries when several models run
        suffix = (
            item.name[len("gate") :]
            if isinstance(item, GateItem)
            else item.name[len(item.case.id) :]
        )
        record = case_record(
            result,
            suite=item.suite.name,
            file=file_id,
            nodeid=f"{file_id}::{result.case.id}{suffix}",
            mask=self.redactor.mask,
        )
        self._records[id(result)] = (result, record)  # the result is kept: ids stay unique
        return record

    # -- reporting -------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when != "call":
            return report
        if isinstance(item, GateItem) and GATE_KEY in item.stash:
            report.toolcall_gate, report.toolcall_cases = item.stash[GATE_KEY]  # type: ignore[attr-defined]
            return report
        if not isinstance(item, CaseItem):
            return report
        answers = self._selection(item).answers
        result = answers.known_result(item.case) if answers else None
        if result is None:
            return report
        record = self._record(result, item)
        report.toolcall = record  # type: ignore[attr-defined]
        if getattr(self.config.option, "xmlpath", None):  # for --junitxml (~0.1 ms a case)
            properties = [
                ("toolcall_outcome", record["outcome"]),
                ("toolcall_expected", format_expected(record["expected"])),
                ("toolcall_actual", format_actual(record)),
            ]
            # junitxml reads the teardown report, which copies the item's properties.
            item.user_properties.extend(properties)
            report.user_properties.extend(properties)
        return report

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, Any] | None:
        if report.when != "call":
            return None
        record = getattr(report, "toolcall", None)
        if record is not None and report.passed and record["outcome"] != "pass":
            return "missed", "m", ("MISSED", {"yellow": True})
        if report.failed and record is not None and record["outcome"] == "error":
            return "error", "E", "ERROR"
        if hasattr(report, "toolcall_gate"):
            return ("passed", "G", "GATE") if report.passed else ("failed", "F", "GATE FAILED")
        return None

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect records from reports (so it works the same under pytest-xdist), and
        stop sending once pytest stops the run (-x, --maxfail)."""
        session = self._session
        if self._engine is not None and session and (session.shouldfail or session.shouldstop):
            self._engine.stop_sending()
        if report.when != "call":
            return
        for record in getattr(report, "toolcall_cases", ()):
            self.case_records[record["file"], record["model"], record["case"]] = record
        if gate := getattr(report, "toolcall_gate", None):
            self.gate_records[gate["file"], gate["model"]] = gate
        if record := getattr(report, "toolcall", None):
            self.case_records[record["file"], record["model"], record["case"]] = record

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Save recordings, then build the summary and write the report files."""
        self._finish_sending(session)
        if hasattr(self.config, "workerinput") or not self.case_records:
            return  # xdist workers send their reports to the controller, which does this
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        self.sections, baseline_failed = write_outputs(
            self.outputs,
            self.gating,
            list(self.case_records.values()),
            self.gate_records,
            terminal_stats=terminal.stats if terminal is not None else None,
        )
        if baseline_failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _finish_sending(self, session: pytest.Session) -> None:
        complete = session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and (
            not session.shouldfail and not session.shouldstop
        )
        try:
            if self._engine is not None:
                self._engine.close()
            if self._shared is not None:
                self._shared.close()
        finally:  # whatever arrived is saved, even on a second Ctrl-C
            for selection in self._selections.values():
                if selection.answers is None:
                    continue
                try:
                    selection.answers.recorder.close(complete=complete)
                except (OSError, CassetteError) as exc:
                    self.problems.append(f"recordings of {selection.file_id} not saved: {exc}")
            if self._batch is not None:  # collected batches leave once their answers are saved
                self.problems += self._batch.close(saved=not self.problems)
        if self.problems and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.sections:
            write_terminal(terminalreporter, self.sections)
        for problem in self.problems:
            terminalreporter.write_line(problem, red=True)

    # -- pytest-xdist controller ------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Give every worker the directory where they share answers."""
        if self._shared_dir is None:
            self._shared_dir = Path(tempfile.mkdtemp(prefix="pytest-toolcall-"))
        node.workerinput[WORKERINPUT_KEY] = str(self._shared_dir)

    def pytest_unconfigure(self) -> None:
        if self._shared_dir is not None:
            import shutil

            shutil.rmtree(self._shared_dir, ignore_errors=True)
