"""Request bodies: a case's body for its API (Chat Completions or Responses), the path it is
posted to, and its stable fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pytest_toolcall.send.responses import RESPONSES_PATH, build_responses_body, chat_params

if TYPE_CHECKING:
    from pytest_toolcall.collect.casefile import Case

CHAT_COMPLETIONS_PATH = "/chat/completions"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
APIS = ("chat", "responses")
API_PATHS = {"chat": CHAT_COMPLETIONS_PATH, "responses": RESPONSES_PATH}


def chat_completions_path(base_url: str | None) -> str:
    """The URL path Chat Completions bodies are posted to (part of every cassette key)."""
    return api_path(base_url, "chat")


def api_path(base_url: str | None, api: str) -> str:
    """The URL path an API's bodies are posted to (part of every cassette key)."""
    return urlsplit(base_url or DEFAULT_BASE_URL).path.rstrip("/") + API_PATHS[api]


def body_api(body: Mapping[str, Any]) -> str:
    """Which API a body built here is for: a Responses body has `input`, never `messages`."""
    return "responses" if "input" in body and "messages" not in body else "chat"


def request_path(body: Mapping[str, Any]) -> str:
    """The path, under the client's base URL, that `body` is posted to."""
    return API_PATHS[body_api(body)]


def build_request(case: Case, model: str) -> dict[str, Any]:
    """The JSON body sent for `case` to `model`, in the form of the case's API."""
    if getattr(case, "api", "chat") == "responses":
        return build_responses_body(case, model)
    messages = list(case.messages)
    if case.system is not None:
        messages.insert(0, {"role": "system", "content": case.system})
    body: dict[str, Any] = {"model": model, "messages": messages}
    if case.tools:
        body["tools"] = list(case.tools)  # the internal form is Chat's (collect.tool_formats)
    if isinstance(case.tool_choice, Mapping):
        body["tool_choice"] = {"type": "function", "function": {"name": case.tool_choice["name"]}}
    elif case.tool_choice is not None:
        body["tool_choice"] = case.tool_choice
    body.update(chat_params(case.params))
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
    if not known:
        return _sha256(canonical_json(body))
    # One encoding of the rest, with a marker no JSON text of a body contains in place of
    # each known value: then each marker is swapped for the value's JSON, as encoded.
    marked = {**body, **{name: f"{_MARKER}{name}" for name in known if name in body}}
    canonical = canonical_json(marked)
    for name in known:
        if name in body:
            canonical = canonical.replace(canonical_json(f"{_MARKER}{name}"), known[name], 1)
    return _sha256(canonical)


_MARKER = f"\x00{os.urandom(16).hex()}:"  # (encoded as "\u0000...": no body's text has it)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
