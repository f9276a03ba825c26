"""The Responses API request body for a case (`POST {base_url}/responses`).

The case is the same as for Chat Completions; only its form changes:

- `system` -> `instructions`; `messages` -> `input` items: user / system / developer /
  assistant text as message items, an assistant's `tool_calls` as `function_call` items
  and each `tool` message as a `function_call_output` item, linked by `call_id`;
- tools in the flat form (`collect.tool_formats`), `tool_choice: {name}` ->
  `{"type": "function", "name": ...}`;
- params both APIs know are translated (`max_tokens` -> `max_output_tokens`, ...); the
  Chat-only ones with no counterpart (`CHAT_ONLY_PARAMS`) are never sent: a case file that
  says `api: responses` and has one does not load, and a run moved to this API by
  `--toolcall-api` drops them with a warning (see `collect.api`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_toolcall.collect.tool_formats import responses_tools

if TYPE_CHECKING:
    from pytest_toolcall.collect.casefile import Case

RESPONSES_PATH = "/responses"
# Chat Completions params that mean nothing to the Responses API.
CHAT_ONLY_PARAMS = frozenset(
    {
        "seed",
        "n",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "modalities",
        "audio",
        "prediction",
        "web_search_options",
        "functions",
        "function_call",
    }
)
RENAMED_PARAMS = {"max_tokens": "max_output_tokens", "max_completion_tokens": "max_output_tokens"}
LOGPROBS_INCLUDE = "message.output_text.logprobs"


def chat_only(params: Mapping[str, Any]) -> list[str]:
    """The params that have no counterpart in the Responses API, in the order written."""
    return [name for name in params if name in CHAT_ONLY_PARAMS]


def responses_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Chat params -> Responses params (the Chat-only ones left out; see `chat_only`)."""
    sent: dict[str, Any] = {}
    for name, value in params.items():
        if name in CHAT_ONLY_PARAMS:
            continue
        if name in RENAMED_PARAMS:
            sent[RENAMED_PARAMS[name]] = value
        elif name == "reasoning_effort":
            sent["reasoning"] = {**sent.get("reasoning", {}), "effort": value}
        elif name == "response_format":
            sent["text"] = {**sent.get("text", {}), "format": _text_format(value)}
        elif name == "verbosity":
            sent["text"] = {**sent.get("text", {}), "verbosity": value}
        elif name == "logprobs":
            if value:
                sent["include"] = [*sent.get("include", []), LOGPROBS_INCLUDE]
        else:
            sent[name] = value  # the same name in both APIs, or the Responses API's own
    return sent


def chat_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params for Chat Completions: as written, but the Responses API's names for what Chat
    also has (a suite written for Responses, run with `--toolcall-api chat`) translated."""
    if not any(name in ("max_output_tokens", "reasoning", "text") for name in params):
        return dict(params)
    sent: dict[str, Any] = {}
    for name, value in params.items():
        if name == "max_output_tokens":
            sent["max_tokens"] = value
        elif name == "reasoning" and isinstance(value, Mapping) and set(value) == {"effort"}:
            sent["reasoning_effort"] = value["effort"]
        elif (
            name == "text" and isinstance(value, Mapping) and set(value) <= {"format", "verbosity"}
        ):
            if "format" in value:
                sent["response_format"] = _response_format(value["format"])
            if "verbosity" in value:
                sent["verbosity"] = value["verbosity"]
        else:
            sent[name] = value
    return sent


def _response_format(text_format: Any) -> Any:
    if isinstance(text_format, Mapping) and text_format.get("type") == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {k: v for k, v in text_format.items() if k != "type"},
        }
    return text_format


def _text_format(response_format: Any) -> Any:
    """Chat's `response_format` -> Responses' `text.format` (json_schema is flattened)."""
    if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
        return {"type": "json_schema", **response_format.get("json_schema", {})}
    return response_format


def build_responses_body(case: Case, model: str) -> dict[str, Any]:
    """The JSON body sent for `case` to `model` on the Responses API."""
    body: dict[str, Any] = {"model": model, "input": input_items(case.messages)}
    if case.system is not None:
        body["instructions"] = case.system
    if case.tools:
        body["tools"] = list(responses_tools(case.tools))
    if isinstance(case.tool_choice, Mapping):
        body["tool_choice"] = {"type": "function", "name": case.tool_choice["name"]}
    elif case.tool_choice is not None:
        body["tool_choice"] = case.tool_choice
    body.update(responses_params(case.params))
    return body


def input_items(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages -> Responses input items, in order."""
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message["tool_call_id"],
                    "output": _output(message.get("content")),
                }
            )
            continue
        content = message.get("content")
        if content is not None and content != "":
            items.append({"type": "message", "role": role, "content": _content(role, content)})
        for call in message.get("tool_calls") or ():
            items.append(
                {
                    "type": "function_call",
                    "call_id": call["id"],
                    "name": call["function"]["name"],
                    "arguments": call["function"]["arguments"],
                }
            )
    return items


def _content(role: str, content: Any) -> Any:
    """Text as is; content parts in the Responses API's part types."""
    if isinstance(content, str):
        return content
    text_type = "output_text" if role == "assistant" else "input_text"
    return [_part(part, text_type) for part in content]


def _part(part: Mapping[str, Any], text_type: str) -> Any:
    kind = part.get("type")
    if kind == "text":
        return {"type": text_type, "text": part.get("text", "")}
    if kind == "image_url":
        image = part.get("image_url")
        image = image if isinstance(image, Mapping) else {"url": image}
        converted = {"type": "input_image", "image_url": image.get("url")}
        if "detail" in image:
            converted["detail"] = image["detail"]
        return converted
    return dict(part)  # a part the Responses API names the same way


def _output(content: Any) -> str:
    """A tool message's content -> a function_call_output's text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = [part.get("text", "") for part in content if isinstance(part, Mapping)]
    return "".join(texts) if all(isinstance(t, str) for t in texts) else json.dumps(content)
