"""Which API a case is sent to: its `api:` (or its file's), or the run's override.

`api: chat` (the default) is Chat Completions, `api: responses` the Responses API; the
case file is the same for both (see `send.responses` for how a case is sent there).

A Chat-only param with no Responses counterpart (`seed`, `n`, `stop`, ...):
- in a case that its file puts on the Responses API, is a collection error: the file
  contradicts itself, and is fixed before anything is paid for;
- in a case moved there by the run (`--toolcall-api responses`, ini `toolcall_api`), is
  dropped with a warning naming it: the override exists to run one unchanged file on both
  APIs. What is sent (and hashed for the cassette) is the body without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_toolcall.collect.errors import Problem
from pytest_toolcall.collect.lines import line_at
from pytest_toolcall.send.responses import chat_only

if TYPE_CHECKING:
    from pytest_toolcall.collect.casefile import Suite

APIS = ("chat", "responses")
RESPONSES_HELP = "remove it, or run this suite on api: chat"


def api_problems(
    api: str,
    params: Mapping[str, Any],
    raw: Mapping[str, Any],
    document: Mapping[str, Any],
    case_id: str,
) -> list[Problem]:
    """A case on the Responses API must not have a param that API does not know."""
    if api != "responses":
        return []
    problems = []
    own = raw.get("params") or {}
    for name in chat_only(params):
        node, case = (raw, case_id) if name in own else (document, None)
        problems.append(
            Problem(
                f"params: {name!r} is a Chat Completions param the Responses API does not "
                f"have (api: responses): {RESPONSES_HELP}",
                case,
                line_at(node, ("params", name)),
            )
        )
    return problems


def suite_on_api(suite: Suite, api: str) -> tuple[Suite, dict[str, list[str]]]:
    """The suite with every case on `api`, and the params that API drops: name -> the ids
    of the cases that have it (empty when nothing is dropped)."""
    dropped: dict[str, list[str]] = {}
    cases = []
    for case in suite.cases:
        if case.api != api and api == "responses":
            for name in chat_only(case.params):
                dropped.setdefault(name, []).append(case.id)
        cases.append(case if case.api == api else dataclasses.replace(case, api=api))
    return dataclasses.replace(suite, cases=tuple(cases), api=api), dropped


def dropped_text(path: Any, api: str, dropped: Mapping[str, list[str]], how: str) -> str:
    """The warning for params the run's API does not have."""
    listed = "; ".join(
        f"{name!r} (case {ids[0]})" if len(ids) == 1 else f"{name!r} ({len(ids)} cases)"
        for name, ids in dropped.items()
    )
    return (
        f"{path}: run on the {api} API ({how}), which has no counterpart for these Chat "
        f"Completions params: not sent: {listed}"
    )
