"""What the generating model is asked, and how its answers are read.

The answer is read as plain text (no `response_format`, which not every local server has)
and the JSON is dug out of it. An unusable answer (no JSON, wrong shape, placeholders,
values that do not fit the schema) raises `AnswerProblem`, whose message the retried
request names.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_toolcall.datagen.invocations import Free, Invocation, tool_name, tool_parameters
from pytest_toolcall.datagen.stated_values import unstated_values
from pytest_toolcall.judge.matching import ToolCall, judge

GENERATOR_SYSTEM = (
    "You write test and training data for an AI assistant that answers users by calling "
    "functions. You answer with one JSON object and nothing else: no prose, no code fences."
)
RETRY_NOTE = (
    "(Attempt {attempt}. An earlier answer could not be used: {problem}. Answer with the "
    "JSON object only, with real values in place of every <...>.)"
)


class AnswerProblem(Exception):
    """Why a model's answer cannot be used (named in the retried request).

    `partial` is what is usable of it anyway (some prompts state their values, others do
    not): kept, and the rest reported, when the retries are spent."""

    def __init__(self, message: str, partial: Any = None) -> None:
        super().__init__(message)
        self.partial = partial


# What the answer forms show instead of values: "<request 1>", "<value>", "...".
_PLACEHOLDER = re.compile(r"^(?:<[^<>]*>|\.\.\.|…)$|<(?:value|choose)>")
_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\n?(.*?)```", re.DOTALL)


def extract_json(text: str | None) -> Any:
    """The JSON value in a model's answer: the whole text, a fenced block, or the first
    object or list embedded in prose."""
    if not text or not text.strip():
        raise AnswerProblem("the answer is empty")
    candidates = [text.strip(), *(block.strip() for block in _FENCE.findall(text))]
    for candidate in candidates:
        with contextlib.suppress(ValueError):
            return json.loads(candidate)
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[{\[]", text):
        with contextlib.suppress(ValueError):
            return decoder.raw_decode(text, match.start())[0]
    raise AnswerProblem("the answer holds no JSON object")


def _distinct_texts(value: Any, what: str) -> list[str]:
    """The distinct non-empty strings of a list; placeholders copied from the form refused."""
    if not isinstance(value, list):
        raise AnswerProblem(f'"{what}" must be a list of strings')
    for item in value:
        if not isinstance(item, str):
            raise AnswerProblem(
                f'each entry of "{what}" must be a plain string (the user\'s words), '
                f"not {type(item).__name__}"
            )
        if _PLACEHOLDER.search(item.strip()):
            raise AnswerProblem(
                f'"{what}" holds the placeholder {item.strip()!r}; write the actual requests'
            )
        if not _unicode(item):
            raise AnswerProblem(
                f'"{what}" holds text that is not valid Unicode (a lone \\u escape)'
            )
    texts: list[str] = []
    seen: set[str] = set()
    for item in value:
        text = " ".join(item.split())
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            texts.append(text)
    return texts


def _unicode(text: str) -> bool:
    """Whether `text` can be written as UTF-8: JSON's `\\ud83d` alone (half of an emoji)
    decodes to a lone surrogate that no case file can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _dollar_keys(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        own = [str(key) for key in value if str(key).startswith("$")]
        return own + [key for item in value.values() for key in _dollar_keys(item)]
    if isinstance(value, list):
        return [key for item in value for key in _dollar_keys(item)]
    return []


def _coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    """30.0 -> 30 where the schema wants an integer (models write either)."""
    if schema.get("type") == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _names_function(prompt: str, tool: str) -> bool:
    """`set_drone_lighting(sos)` or `use set_drone_lighting`; a plain word ("land") only
    when called like a function."""
    if re.search(rf"(?<![\w.-]){re.escape(tool)}\s*\(", prompt, re.IGNORECASE):
        return True
    return not tool.isalpha() and tool.casefold() in prompt.casefold()


def parse_fill(
    text: str | None, invocation: Invocation, parameters: Mapping[str, Any], k: int
) -> tuple[dict[str, Any], list[str]]:
    """The filled arguments and `k` prompts from an invocation's answer."""
    payload = extract_json(text)
    if not isinstance(payload, dict):
        raise AnswerProblem('the answer must be a JSON object with "prompts"')
    prompts = _distinct_texts(payload.get("prompts"), "prompts")
    if len(prompts) < k:
        raise AnswerProblem(f"{len(prompts)} distinct prompts given, {k} wanted")
    if named := [p for p in prompts[:k] if _names_function(p, invocation.tool)]:
        raise AnswerProblem(f"a prompt names the function ({named[0]!r}); use the user's words")
    args = dict(invocation.args)
    if invocation.free:
        filled = payload.get("arguments")
        if not isinstance(filled, dict):
            raise AnswerProblem('"arguments" must be an object with ' + ", ".join(invocation.free))
        for name in invocation.free:
            if name not in filled:
                raise AnswerProblem(f'"arguments" has no value for {name}')
            args[name] = _coerce(filled[name], args[name].schema)
    if any(_PLACEHOLDER.search(text) for text in _strings(args)):
        raise AnswerProblem('"arguments" holds a placeholder; choose real values')
    if not all(_unicode(text) for text in _strings(args)):
        raise AnswerProblem('"arguments" holds text that is not valid Unicode (a lone \\u escape)')
    if keys := _dollar_keys(args):
        raise AnswerProblem(f"keys may not start with '$' ({', '.join(keys)})")
    call = ToolCall(invocation.tool, json.dumps(args))
    verdict = judge({"tool": invocation.tool, "args": args}, [call], {invocation.tool: parameters})
    if not verdict.passed:
        raise AnswerProblem(f"the arguments do not fit the schema: {verdict.detail}")
    return args, _stating_prompts(prompts, args, parameters, k)


def _stating_prompts(
    prompts: Sequence[str], args: Mapping[str, Any], parameters: Mapping[str, Any], k: int
) -> list[str]:
    """The first `k` prompts that state every value of the call; a case whose prompt does
    not say `front` (or says "back") can never pass."""
    kept, lacking = [], []
    for prompt in prompts:
        if missing := unstated_values(prompt, args, parameters):
            lacking.append(f"{prompt!r} does not say {', '.join(missing)}")
        else:
            kept.append(prompt)
    if len(kept) >= k:
        return kept[:k]
    raise AnswerProblem(
        f"{len(prompts) - len(kept)} of {len(prompts)} prompts do not state the call's values "
        f"({'; '.join(lacking)}); every prompt must state each value, in words or digits",
        partial=(dict(args), kept) if kept else None,
    )


def parse_rejects(text: str | None, wanted: int) -> list[str]:
    """At least `wanted` distinct near-miss requests (a bare JSON list is accepted)."""
    payload = extract_json(text)
    requests = payload.get("requests") if isinstance(payload, dict) else payload
    texts = _distinct_texts(requests, "requests")
    if len(texts) < wanted:
        raise AnswerProblem(f"{len(texts)} distinct requests given, {wanted} wanted")
    return texts[:wanted]


def _describe_call(tool: Mapping[str, Any], invocation: Invocation) -> list[str]:
    """The call in words: each argument's value (or `<choose>`), description and schema."""
    properties = tool_parameters(tool).get("properties") or {}
    shown = ", ".join(
        f"{name}=" + ("<choose>" if isinstance(v, Free) else json.dumps(v))
        for name, v in invocation.args.items()
    )
    lines = [f"The call: {invocation.tool}({shown})"]
    for name, value in invocation.args.items():
        schema = properties.get(name) or {}
        about = str(schema.get("description", "")).strip()
        if isinstance(value, Free):
            rules = {k: v for k, v in schema.items() if k != "description"}
            lines.append(f"- {name} = <choose>: {about} Schema: {json.dumps(rules)}")
        else:
            lines.append(f"- {name} = {json.dumps(value)}: {about}".rstrip(": "))
    return lines


def invocation_prompt(tool: Mapping[str, Any], invocation: Invocation, k: int) -> str:
    """The user message asking for the free values and `k` prompts of one invocation.

    Small models copy what they see, so the answer's form uses `<...>` placeholders that
    `parse_fill` refuses, and the descriptions are not offered as sentences to reuse.
    """
    description = str(tool["function"].get("description", "")).strip().rstrip(".")
    lines = [
        f"An assistant has the function {invocation.tool}"
        + (f" ({description})" if description else "")
        + ".",
        *_describe_call(tool, invocation),
        "",
    ]
    if invocation.free:
        lines.append("Choose a realistic value for each <choose> argument, fitting its schema.")
    lines += [
        f"Write {k} different requests a user might type that mean exactly this call"
        + (", with every argument value in the user's own words" if invocation.args else "")
        + ". Vary the wording and length. Do not name the function, do not copy the "
        "descriptions, do not ask for anything else.",
        "",
        "Answer with JSON only, in this form:",
    ]
    placeholders = ", ".join(f'"<request {n}>"' for n in range(1, k + 1))
    filled = ", ".join(f'"{name}": <value>' for name in invocation.free)
    lines.append(
        ('{"arguments": {' + filled + "}, " if invocation.free else "{")
        + f'"prompts": [{placeholders}]}}'
    )
    return "\n".join(lines)


def rejects_prompt(
    tools: Sequence[Mapping[str, Any]],
    reject_tool: str,
    count: int,
    batch: str,
    examples: Sequence[str],
    avoid: Sequence[str],
) -> str:
    """The user message asking for `count` near-miss requests that `reject_tool` answers."""
    lines = ["An assistant can only call these functions:"]
    lines += [
        f"- {tool_name(t)}: {t['function'].get('description', '')}".rstrip(": ")
        for t in sorted(tools, key=tool_name)
        if tool_name(t) != reject_tool
    ]
    lines += [
        "",
        f"Write {count} different requests a user might type that none of these functions "
        "can carry out: near misses that sound close to what the functions do but need a "
        "capability, or a value, they do not have. Each is one short sentence in the user's "
        "words.",
    ]
    if examples:
        lines += ["Examples of such requests:", *(f"- {example}" for example in examples)]
    if avoid:
        lines += ["Do not repeat any of these:", *(f"- {text}" for text in avoid)]
    placeholders = ", ".join(f'"<request {n}>"' for n in range(1, min(count, 3) + 1))
    lines += [
        f"({batch})",
        "",
        "Answer with JSON only, in this form:",
        f'{{"requests": [{placeholders}{", ..." if count > 3 else ""}]}}',
    ]
    return "\n".join(lines)
