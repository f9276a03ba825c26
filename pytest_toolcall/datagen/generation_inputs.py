"""What `pytest-toolcall generate` is asked to do, and reading the files it names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_toolcall.collect.tool_formats import to_chat
from pytest_toolcall.collect.yaml12 import YamlError, load_yaml
from pytest_toolcall.send.transport import SendSettings


class GenerateError(Exception):
    """A generation that cannot start or finish; the message is one line for the user."""


@dataclass(frozen=True)
class GenerateOptions:
    """What `pytest-toolcall generate` was asked to do."""

    tools_path: Path
    model: str
    out: Path
    send: SendSettings
    record_mode: str = "once"
    prompts_per_call: int = 3
    max_per_tool: int | None = None
    seed: int = 0
    reject_tool: str | None = None
    rejects: int = 0
    near_misses_path: Path | None = None
    system_path: Path | None = None
    retries: int = 2
    suite: str | None = None
    threshold: float = 0.8  # of the written suite: generated cases need review


def read_text(path: Path, what: str) -> str:
    """A UTF-8 file's text; `what` names it in the error."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GenerateError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GenerateError(f"cannot read {what} {path}: {exc}") from None


def read_tools(path: Path) -> list[dict[str, Any]]:
    """A Chat Completions `tools` list from a JSON/YAML file in either API's form, roughly
    checked (the written suite is checked in full by `load_suite`)."""
    text = read_text(path, "tools file")
    try:
        tools = load_yaml(text)
    except YamlError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise GenerateError(
            f"tools file {path} is not valid JSON/YAML{where}: {exc.problem}"
        ) from None
    if not isinstance(tools, list) or not tools:
        raise GenerateError(f"tools file {path} must hold a non-empty list of tools")
    tools = [to_chat(tool) if isinstance(tool, dict) else tool for tool in tools]  # flat too
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise GenerateError(
                f"tools file {path}: [{index}] is not {{type: function, function: {{name, "
                "parameters}}}}"
            )
        if not isinstance(function.get("parameters", {}), dict):
            raise GenerateError(f"tools file {path}: {function['name']}: parameters not an object")
    return tools


def read_examples(path: Path | None) -> list[str]:
    """The near-miss examples: one a line, blank lines and `#` comments skipped."""
    if path is None:
        return []
    lines = read_text(path, "near-miss file").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
