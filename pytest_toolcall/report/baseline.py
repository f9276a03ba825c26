"""Comparing a run with a baseline report committed earlier.

A case that passed in the baseline and does not pass now is a regression; regressions fail
the run (with `--toolcall-regressions=significant`, only when the paired exact test says
there are significantly more of them than fixes). Cases are matched by their case file
(the suite's identity) and id, and by model when either side ran several models.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from pytest_toolcall.report.stats import DEFAULT_ALPHA, describe_paired, paired_test

REPORT_FORMAT = "pytest-toolcall-report"
REPORT_VERSION = 1
REGRESSION_MODES = ("any", "significant")
LAST_LINE_KEY = "regressed"  # the word in pytest's last line: "30 passed, 2 regressed"


class BaselineError(Exception):
    """A baseline report that cannot be compared with, and why."""


def load_baseline(path: Path) -> dict[str, Any]:
    """Read a baseline report, or say clearly why it cannot be used."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline {path} does not exist") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise BaselineError(
            f"baseline {path} is not a pytest-toolcall report (write one with --toolcall-report)"
        )
    if data.get("version") != REPORT_VERSION:
        raise BaselineError(
            f"baseline {path} is report version {data.get('version')}; this pytest-toolcall "
            f"reads version {REPORT_VERSION}: write a new baseline with --toolcall-report"
        )
    cases = data.get("cases")
    if not isinstance(cases, list) or not all(_is_case(c) for c in cases):
        raise BaselineError(f"baseline {path}: 'cases' is not a list of case entries")
    return data


def _is_case(entry: Any) -> bool:
    return isinstance(entry, dict) and all(
        isinstance(entry.get(key), str) for key in ("suite", "model", "case", "outcome")
    )


def _verdict(entry: Mapping[str, Any]) -> str:
    samples = entry.get("samples", 1)
    if samples > 1:
        return f"{entry.get('passes', 0)}/{samples} passed"
    return entry["outcome"]


def _passed(entry: Mapping[str, Any]) -> bool:
    return entry["outcome"] == "pass"


def _file(entry: Mapping[str, Any]) -> str:
    """The suite's identity: its case file (a report without one: its name)."""
    return entry.get("file") or entry["suite"]


def compare(
    baseline: Mapping[str, Any],
    cases: Sequence[Mapping[str, Any]],
    *,
    alpha: float = DEFAULT_ALPHA,
) -> dict[str, Any]:
    """Regressions, fixes, new, removed and renamed cases between a baseline and this run,
    and the paired exact test on the cases whose verdict changed.

    Cases are matched by case file, case id and model; when each side ran exactly one model
    they are matched by file and case id alone, so a new model is compared with the old one.
    A case that disappeared and one that appeared in the same file with the same request are
    a renamed case.
    """
    one_model_each = len({c["model"] for c in baseline["cases"]}) <= 1 and (
        len({c["model"] for c in cases}) <= 1
    )

    def key(entry: Mapping[str, Any]) -> tuple[str, ...]:
        if one_model_each:
            return _file(entry), entry["case"]
        return _file(entry), entry["case"], entry["model"]

    before = {key(entry): entry for entry in baseline["cases"]}
    now = {key(entry): entry for entry in cases}
    gone = {k: entry for k, entry in before.items() if k not in now}
    pairs = [(before[k], entry) for k, entry in now.items() if k in before]
    diff: dict[str, Any] = {"new": [], "removed": [], "renamed": []}
    gone_by_request = {(_file(e), e.get("request_hash")): k for k, e in gone.items()}
    for k, entry in now.items():
        if k in before:
            continue
        old_key = gone_by_request.get((_file(entry), entry.get("request_hash")))
        if entry.get("request_hash") and old_key in gone:
            old = gone.pop(old_key)
            diff["renamed"].append(
                {"before": old["case"], "now": entry["case"], "file": _file(entry)}
            )
            pairs.append((old, entry))
        else:
            diff["new"].append(_row(entry, before="-", now=_verdict(entry)))
    diff["removed"] = [_row(old, before=_verdict(old), now="-") for old in gone.values()]
    diff["regressions"] = [
        _row(new, before=_verdict(old), now=_verdict(new))
        for old, new in pairs
        if _passed(old) and not _passed(new)
    ]
    diff["fixed"] = [
        _row(new, before=_verdict(old), now=_verdict(new))
        for old, new in pairs
        if not _passed(old) and _passed(new)
    ]
    diff["paired"] = paired_test(len(diff["fixed"]), len(diff["regressions"]), alpha)
    return diff


def _row(entry: Mapping[str, Any], *, before: str, now: str) -> dict[str, str]:
    return {
        "case": entry["case"],
        "suite": entry["suite"],
        "file": _file(entry),
        "model": entry["model"],
        "before": before,
        "now": now,
    }


def baseline_failed(diff: Mapping[str, Any], mode: str = "any") -> bool:
    """Whether the comparison fails the run: any regression (`any`), or with `significant`
    only significantly more regressions than fixes."""
    if not diff["regressions"]:
        return False
    if mode == "any":
        return True
    if mode != "significant":
        raise ValueError(f"regressions mode {mode!r} is not one of {REGRESSION_MODES}")
    paired = diff.get("paired") or paired_test(len(diff["fixed"]), len(diff["regressions"]))
    return paired["broken"] > paired["fixed"] and paired["significant"]


def baseline_verdict(diff: Mapping[str, Any], mode: str = "any") -> str:
    """One line saying what the comparison decided and on what number."""
    regressed = len(diff["regressions"])
    paired = diff.get("paired") or paired_test(len(diff["fixed"]), regressed)
    test = describe_paired(paired)
    if not regressed:
        return f"baseline: no regression ({test})"
    if mode == "significant":
        if baseline_failed(diff, mode):
            return f"baseline: {regressed} regressed, significantly ({test}): the run fails"
        return (
            f"baseline: {regressed} regressed, not significantly more than fixed ({test}): "
            "the run does not fail on them (--toolcall-regressions=significant)"
        )
    return f"baseline: {regressed} regressed ({test}): the run fails"


def record_regressions(stats: MutableMapping[str, list[Any]], diff: Mapping[str, Any]) -> int:
    """Put the regressions in pytest's last line ("30 passed, 2 regressed"): add them to
    `terminalreporter.stats` under LAST_LINE_KEY. Returns how many were added."""
    regressions = list(diff["regressions"])
    if regressions:
        stats.setdefault(LAST_LINE_KEY, []).extend(regressions)
    return len(regressions)
