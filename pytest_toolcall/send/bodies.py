"""Request bodies: the Chat Completions body for a case, and its stable fingerprint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pytest_toolcall.collect.casefile import Case

CHAT_COMPLETIONS_PATH = "/chat/completions"
DEFAULT_BASE_URL = "https://api.openai.com/v1"


def chat_completions_path(base_url: str | None) -> str:
    """The URL path Chat Completions bodies are posted to (part of every cassette key)."""
    return urlsplit(base_url or DEFAULT_BASE_URL).path.rstrip("/") + CHAT_COMPLETIONS_PATH


def build_request(case: Case, model: str) -> dict[str, Any]:
    """The JSON body sent for `case` to `model`."""
    messages = list(case.messages)
    if case.system is not None:
        messages.insert(0, {"role": "system", "content": case.system})
    body: dict[str, Any] = {"model": model, "messages": messages}
    if case.tools:
        body["tools"] = list(case.tools)
    if isinstance(case.tool_choice, Mapping):
        body["tool_choice"] = {"type": "function", "function": {"name": case.tool_choice["name"]}}
    elif case.tool_choice is not None:
        body["tool_choice"] = case.tool_choice
    body.update(case.params)
    return body


def canonical_json(value: Any) -> str:
    """Sorted-key, compact JSON: the same text for the same value, whatever its key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_hash(
    body: Mapping[str, Any] | bytes | str, *, known: Mapping[str, str] | None = None
) -> str:
    """A stable fingerprint of a request body: sha256 of its canonical JSON.

    `known` maps top-level keys to the canonical JSON of their values when the caller has it
    already (a suite's tools are most of every body); the text hashed is the same.
    """
    if isinstance(body, bytes | str):
        body = json.loads(body)
    known = known or {}
    members = (
        f"{canonical_json(key)}:{known.get(key) or canonical_json(value)}"
        for key, value in sorted(body.items())
    )
    canonical = "{" + ",".join(members) + "}"
    return hashlib.sha256(canonical.encode()).hexdigest()
