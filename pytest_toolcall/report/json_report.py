"""The JSON report (`--toolcall-report`) and the comparison with a baseline report.

The format is versioned: `{"format": "pytest-toolcall-report", "version": 1, ...}`; fields
are documented in the README. A baseline is a report committed earlier: a case that passed
there and does not pass now is a regression, and regressions fail the run.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_toolcall import __version__

REPORT_FORMAT = "pytest-toolcall-report"
REPORT_VERSION = 1


class BaselineError(Exception):
    """A baseline report that cannot be compared with, and why."""


def build_report(
    summaries: Sequence[Mapping[str, Any]],
    case_records: Sequence[Mapping[str, Any]],
    *,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything a CI job may want to keep: cases, suites with gates, models, options."""
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "tool": {"name": "pytest-toolcall", "version": __version__},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "models": list(dict.fromkeys(s["model"] for s in summaries)),
        "options": dict(options),
        "suites": list(summaries),
        "cases": list(case_records),
    }


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    os.replace(temp_name, path)


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


def compare(baseline: Mapping[str, Any], cases: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Regressions, fixes, new, removed and renamed cases between a baseline and this run.

    Cases are matched by suite, case id and model; when each side ran exactly one model they
    are matched by suite and case id alone, so a new model is compared with the old one. A
    case that disappeared and one that appeared with the same request are a renamed case.
    """
    one_model_each = len({c["model"] for c in baseline["cases"]}) <= 1 and (
        len({c["model"] for c in cases}) <= 1
    )

    def key(entry: Mapping[str, Any]) -> tuple[str, ...]:
        if one_model_each:
            return entry["suite"], entry["case"]
        return entry["suite"], entry["case"], entry["model"]

    before = {key(entry): entry for entry in baseline["cases"]}
    now = {key(entry): entry for entry in cases}
    gone = {k: entry for k, entry in before.items() if k not in now}
    pairs = [(before[k], entry) for k, entry in now.items() if k in before]
    diff: dict[str, list[dict[str, str]]] = {"new": [], "removed": [], "renamed": []}
    gone_by_request = {(e["suite"], e.get("request_hash")): k for k, e in gone.items()}
    for k, entry in now.items():
        if k in before:
            continue
        old_key = gone_by_request.get((entry["suite"], entry.get("request_hash")))
        if entry.get("request_hash") and old_key in gone:
            old = gone.pop(old_key)
            diff["renamed"].append({"before": old["case"], "now": entry["case"]})
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
    return diff


def _row(entry: Mapping[str, Any], *, before: str, now: str) -> dict[str, str]:
    return {
        "case": entry["case"],
        "suite": entry["suite"],
        "model": entry["model"],
        "before": before,
        "now": now,
    }
