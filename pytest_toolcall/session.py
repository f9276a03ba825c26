"""Run state for one pytest session: which cases run, their results, gates, records."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_toolcall.collect.casefile import Case, CaseFileError, Suite
from pytest_toolcall.nodes import CaseItem, GateItem
from pytest_toolcall.report.json_report import build_report, compare, write_json
from pytest_toolcall.report.records import (
    case_record,
    format_actual,
    format_expected,
    gate_record,
    suite_summaries,
)
from pytest_toolcall.report.summary import Section, build_sections, to_markdown, write_terminal
from pytest_toolcall.runner import Batch, CaseResult, RunSettings, run_batches

STATE_KEY = pytest.StashKey["ToolcallSession"]()
GATE_KEY = pytest.StashKey[tuple[dict[str, Any], list[dict[str, Any]]]]()
BatchKey = tuple[Path, str]


@dataclass(frozen=True)
class Outputs:
    """Files the run writes or reads besides cassettes."""

    report: Path | None = None
    markdown: Path | None = None
    baseline: dict[str, Any] | None = None


@dataclass
class _Selection:
    """What this session runs of one suite x model, and (once answered) the results."""

    suite: Suite
    model: str
    file_id: str  # the case file's node id, for the record command in error messages
    case_ids: set[str] = field(default_factory=set)
    gate_selected: bool = False
    results: dict[str, CaseResult] | None = None

    def batch(self, base_url: str | None) -> Batch:
        # A gate judges its whole suite, so a selected gate brings every case along.
        wanted = [c for c in self.suite.cases if self.gate_selected or c.id in self.case_ids]
        return Batch(self.suite, self.model, wanted, self._record_command(base_url))

    def _record_command(self, base_url: str | None) -> Callable[[Case], str]:
        def command(case: Case) -> str:
            args = ["pytest", f"{self.file_id}::{case.id}", f"--model={self.model}"]
            if base_url:
                args.append(f"--base-url={base_url}")
            return shlex.join([*args, "--record-mode=once"])

        return command


class ToolcallSession:
    """Registered as a plugin: holds results and turns them into report data."""

    def __init__(
        self,
        config: pytest.Config,
        *,
        settings: RunSettings,
        models: list[str],
        strict: bool,
        threshold_override: float | None,
        gate_on_lower_bound: bool,
        outputs: Outputs,
        options: dict[str, Any],
    ) -> None:
        self.config = config
        self.settings = settings
        self.models = models
        self.strict = strict
        self.threshold_override = threshold_override
        self.gate_on_lower_bound = gate_on_lower_bound
        self.outputs = outputs
        self.options = options
        self.sections: list[Section] = []
        self._selections: dict[BatchKey, _Selection] = {}
        self._records: dict[int, tuple[CaseResult, dict[str, Any]]] = {}
        self.case_records: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.gate_records: dict[tuple[str, str], dict[str, Any]] = {}

    # -- collection ------------------------------------------------------------------

    def models_for(self, suite: Suite, path: Path) -> list[str]:
        if self.models:
            return self.models
        if suite.model:
            return [suite.model]
        raise CaseFileError(
            path,
            "no model to run: pass --model=NAME, set toolcall_model in the ini file, "
            "or put 'model:' in the case file",
        )

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

    def _results(self, item: CaseItem | GateItem) -> dict[str, CaseResult]:
        selection = self._selections[item.path, item.model]
        if selection.results is None:
            # Every suite still to run goes out in one concurrent round, except on an xdist
            # worker, which cannot know which other case files it will be given.
            pending = (
                [selection]
                if hasattr(self.config, "workerinput")
                else [s for s in self._selections.values() if s.results is None]
            )
            batches = [s.batch(self.settings.send.base_url) for s in pending]
            run_batches(batches, self.settings)
            for answered, batch in zip(pending, batches, strict=True):
                answered.results = batch.results
        return selection.results

    def case_result(self, item: CaseItem) -> CaseResult:
        return self._results(item)[item.case.id]

    def judge_gate(self, item: GateItem) -> str | None:
        """None when the gate holds; otherwise why it does not."""
        records = [self._record(result, item) for result in self._results(item).values()]
        threshold = (
            self.threshold_override if self.threshold_override is not None else item.suite.threshold
        )
        gate = gate_record(
            records,
            threshold=threshold,
            tag_thresholds=item.suite.tag_thresholds,
            use_lower_bound=self.gate_on_lower_bound,
        )
        gate.update(suite=item.suite.name, model=item.model, nodeid=item.nodeid)
        item.stash[GATE_KEY] = (gate, records)
        if gate["passed"]:
            return None
        return _gate_failure_text(item.suite.name, item.model, gate, records)

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
        selection = self._selections.get((item.path, item.model))
        results = selection.results if selection else None
        result = results.get(item.case.id) if results else None
        if result is None:
            return report
        record = self._record(result, item)
        properties = [
            ("toolcall_outcome", record["outcome"]),
            ("toolcall_expected", format_expected(record["expected"])),
            ("toolcall_actual", format_actual(record)),
        ]
        # junitxml reads the teardown report, which copies the item's properties.
        item.user_properties.extend(properties)
        report.user_properties.extend(properties)
        report.toolcall = record  # type: ignore[attr-defined]
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

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect records from reports, so it works the same under pytest-xdist."""
        if report.when != "call":
            return
        for record in getattr(report, "toolcall_cases", ()):
            self.case_records[record["suite"], record["model"], record["case"]] = record
        if gate := getattr(report, "toolcall_gate", None):
            self.gate_records[gate["suite"], gate["model"]] = gate
        if record := getattr(report, "toolcall", None):
            self.case_records[record["suite"], record["model"], record["case"]] = record

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Build the summary, compare with the baseline, write the report files."""
        if hasattr(self.config, "workerinput") or not self.case_records:
            return  # xdist workers send their reports to the controller, which does this
        records = list(self.case_records.values())
        summaries = suite_summaries(records, self.gate_records)
        diff = compare(self.outputs.baseline, records) if self.outputs.baseline else None
        self.sections = build_sections(summaries, records, diff)
        if self.outputs.report:
            write_json(self.outputs.report, build_report(summaries, records, options=self.options))
        markdown = to_markdown(self.sections)
        if self.outputs.markdown:
            self.outputs.markdown.parent.mkdir(parents=True, exist_ok=True)
            self.outputs.markdown.write_text(markdown, encoding="utf-8")
        if step_summary := os.environ.get("GITHUB_STEP_SUMMARY"):
            with open(step_summary, "a", encoding="utf-8") as stream:
                stream.write(markdown)
        if diff and diff["regressions"] and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.sections:
            write_terminal(terminalreporter, self.sections)


def _gate_failure_text(
    suite: str, model: str, gate: dict[str, Any], records: list[dict[str, Any]]
) -> str:
    lines = []
    for name, check in gate["gates"].items():
        if check["passed"]:
            continue
        what = "accuracy" if name == "all" else f"accuracy of tag '{name[4:]}'"
        if check["accuracy"] is None:
            lines.append(f"{suite} [{model}]: {what}: no case was answered")
            continue
        lines.append(
            f"{suite} [{model}]: {what} {check['accuracy']:.0%} "
            f"({check['passes']}/{check['judged']}) is below the threshold {check['threshold']:.0%}"
        )
    misses = [r for r in records if r["outcome"] not in ("pass", "error")]
    if misses:
        lines.append("misses:")
        for record in misses:
            lines.append(
                f"  {record['case']}: {record['prompt']!r}\n"
                f"    expected {format_expected(record['expected'])}\n"
                f"    got      {format_actual(record)}  ({record['outcome']}: {record['detail']})"
            )
    return "\n".join(lines)
