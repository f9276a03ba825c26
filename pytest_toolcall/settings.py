"""Command line and ini file -> the run's settings, checked, with clear usage errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_toolcall.cassettes import RECORD_MODES
from pytest_toolcall.collect.api import APIS
from pytest_toolcall.recorder import RecordPolicy
from pytest_toolcall.report.baseline import BaselineError, load_baseline
from pytest_toolcall.report.cost import PriceError, parse_prices
from pytest_toolcall.report.outputs import Gating, Outputs
from pytest_toolcall.send.batch import BatchSettings
from pytest_toolcall.send.transport import SendSettings
from pytest_toolcall.session import RunSettings, ToolcallSession


def _number(config: pytest.Config, option: str, ini: str, kind: type, minimum: float) -> Any:
    raw = config.getoption(option, None)
    value = raw if raw is not None else config.getini(ini)
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{ini}: {value!r} is not a number") from None
    if number < minimum:
        raise pytest.UsageError(f"--{option.replace('_', '-')}: must be at least {minimum}")
    return number


def _record_mode(config: pytest.Config) -> str:
    ours = config.getoption("toolcall_record_mode", None)
    shared = config.getoption("record_mode", None)  # ours, or pytest-recording's
    if ours and shared and ours != shared:
        raise pytest.UsageError(
            f"--toolcall-record-mode={ours} and --record-mode={shared} disagree: give one"
        )
    mode = ours or shared or config.getini("toolcall_record_mode")
    if mode not in RECORD_MODES:
        raise pytest.UsageError(f"toolcall_record_mode: {mode!r} is not one of {RECORD_MODES}")
    return mode


def _models(config: pytest.Config) -> list[str]:
    models = config.getoption("model", None) or config.getini("toolcall_model")
    for model in models:
        if not model.strip():
            raise pytest.UsageError("--model: the model name is empty")
    return models


def run_api(config: pytest.Config) -> str | None:
    """The API every case is sent to in this run (`--toolcall-api`, ini `toolcall_api`), or
    None: each case's own `api:`."""
    api = config.getoption("toolcall_api", None) or config.getini("toolcall_api") or None
    if api is not None and api not in APIS:
        raise pytest.UsageError(f"toolcall_api: {api!r} is not one of {', '.join(APIS)}")
    return api


def _batch(config: pytest.Config, policy: RecordPolicy) -> BatchSettings | None:
    """`--toolcall-batch` / ini `toolcall_batch`: record through the Batch API. The ini
    setting means "when recording": a replaying (`none`) or live run ignores it; the
    option asks for batches now, so with those it is an error."""
    asked = bool(config.getoption("toolcall_batch", None))
    if not (asked or config.getini("toolcall_batch")):
        return None
    if not asked and (policy.live or policy.record_mode == "none"):
        return None
    if policy.live:
        raise pytest.UsageError(
            "--toolcall-batch records answers into cassettes, and --toolcall-live keeps "
            "none: a batch's answers would have nowhere to go (drop one of the two)"
        )
    if policy.record_mode == "none":
        raise pytest.UsageError(
            "--toolcall-batch needs a record mode that records (once, new_episodes, all or "
            "rewrite): --record-mode=none only replays, so nothing would be sent"
        )
    if config.getoption("numprocesses", None):
        raise pytest.UsageError(
            "--toolcall-batch does not run under pytest-xdist (-n): its batches are "
            "collected in one process before any test runs; drop -n"
        )
    poll_s = _number(config, "toolcall_batch_poll", "toolcall_batch_poll", float, 0)
    return BatchSettings(poll_s=poll_s)


def _threshold(config: pytest.Config) -> float | None:
    threshold = config.getoption("toolcall_threshold", None)
    if threshold is None and config.getini("toolcall_threshold"):
        threshold = _number(config, "toolcall_threshold", "toolcall_threshold", float, 0)
    if threshold is not None and not 0 <= threshold <= 1:
        raise pytest.UsageError(f"--toolcall-threshold: {threshold} is not between 0 and 1")
    return threshold


def _headers(lines: list[str]) -> dict[str, str]:
    """`Name: value` lines (values may name environment variables) -> headers."""
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise pytest.UsageError(f"toolcall_headers: {line!r} is not 'Name: value'")
        headers[name.strip()] = os.path.expandvars(value.strip())
    return headers


def _path(config: pytest.Config, option: str) -> Path | None:
    value = config.getoption(option, None)
    return Path(value) if value else None


def _baseline(config: pytest.Config) -> dict[str, Any] | None:
    path = _path(config, "toolcall_baseline")
    if path is None:
        return None
    try:
        return load_baseline(path)
    except BaselineError as exc:
        raise pytest.UsageError(f"--toolcall-baseline: {exc}") from None


def session_from_config(config: pytest.Config) -> ToolcallSession:
    """The run state for this session, from options and ini settings."""
    send = SendSettings(
        base_url=config.getoption("toolcall_base_url", None)
        or config.getini("toolcall_base_url")
        or os.environ.get("OPENAI_BASE_URL")
        or None,
        api_key=os.environ.get("OPENAI_API_KEY") or None,
        concurrency=_number(config, "toolcall_concurrency", "toolcall_concurrency", int, 1),
        timeout_s=_number(config, "toolcall_timeout", "toolcall_timeout", float, 0.001),
        retries=_number(config, "toolcall_retries", "toolcall_retries", int, 0),
        headers=_headers(config.getini("toolcall_headers")),
    )
    policy = RecordPolicy(_record_mode(config), bool(config.getoption("toolcall_live", None)))
    settings = RunSettings(
        send=send,
        policy=policy,
        repeat=_number(config, "toolcall_repeat", "toolcall_repeat", int, 1),
        extra_scrubbed_headers=tuple(config.getini("toolcall_scrub_headers")),
        batch=_batch(config, policy),
    )
    alpha = config.getoption("toolcall_alpha", None)
    if alpha is not None and not 0 < alpha < 1:
        raise pytest.UsageError(f"--toolcall-alpha: {alpha} is not between 0 and 1")
    threshold = _threshold(config)
    gating = Gating(
        threshold_override=threshold,
        use_lower_bound=bool(config.getoption("toolcall_gate_lower_bound", None)),
        regressions=config.getoption("toolcall_regressions", None) or "any",
        alpha=0.05 if alpha is None else alpha,
    )
    try:
        prices = parse_prices(config.getini("toolcall_prices")) or None
    except PriceError as exc:
        raise pytest.UsageError(str(exc)) from None
    strict = bool(config.getoption("toolcall_strict", None) or config.getini("toolcall_strict"))
    outputs = Outputs(
        report=_path(config, "toolcall_report"),
        markdown=_path(config, "toolcall_markdown"),
        baseline=_baseline(config),
        prices=prices,
        options={
            "record_mode": policy.record_mode,
            "live": policy.live,
            "repeat": settings.repeat,
            "concurrency": send.concurrency,
            "timeout_s": send.timeout_s,
            "retries": send.retries,
            "threshold": threshold,
            "strict": strict,
            "base_url": send.base_url,
            "api": run_api(config),
            "regressions": gating.regressions,
            "alpha": gating.alpha,
        },
    )
    return ToolcallSession(
        config,
        settings=settings,
        models=_models(config),
        strict=strict,
        gating=gating,
        outputs=outputs,
    )
