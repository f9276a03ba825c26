"""Tools in either API's format -> one internal form, and that form rendered per API.

Case files and tools files may write a tool the Chat Completions way,
``{"type": "function", "function": {"name": ..., "parameters": ...}}``, or the Responses
way, flat: ``{"type": "function", "name": ..., "parameters": ...}``. Inside the plugin a
tool is always in Chat form (what matching, export and generate read); a Chat tool is kept
as the very object written, so Chat request bodies (and their cassette keys) are what they
were before the Responses API existed. Each request renders the tools in its API's form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_toolcall.identity_memo import by_identity

Tool = Mapping[str, Any]
FUNCTION_KEYS = ("name", "description", "parameters", "strict")
NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def is_flat(tool: Tool) -> bool:
    """Whether a tool is written in the Responses API's flat form."""
    return "function" not in tool and "name" in tool


def to_chat(tool: Tool) -> Tool:
    """A tool in Chat form: itself when it is one already."""
    if not is_flat(tool):
        return tool
    function = {key: tool[key] for key in FUNCTION_KEYS if key in tool}
    return {"type": "function", "function": function}


def chat_tools(tools: Iterable[Tool]) -> tuple[Tool, ...]:
    """Tools of either form -> the internal (Chat) form."""
    return tuple(to_chat(tool) for tool in tools)


def to_responses(tool: Tool) -> dict[str, Any]:
    """An internal (Chat form) tool -> the Responses API's flat function tool.

    `strict` is sent as written, else False: Chat's default. (Responses would otherwise
    treat the schema as strict, and a suite must mean the same on both APIs.)
    """
    function = tool["function"]
    flat: dict[str, Any] = {"type": "function", "name": function["name"]}
    if "description" in function:
        flat["description"] = function["description"]
    flat["parameters"] = function.get("parameters", NO_PARAMETERS)
    flat["strict"] = function.get("strict", False)
    return flat


@by_identity
def responses_tools(tools: Sequence[Tool]) -> list[dict[str, Any]]:
    """A case's tools (internal form) in the Responses API's form; rendered once per tools
    tuple, as every case of a suite shares its suite's."""
    return [to_responses(tool) for tool in tools]
