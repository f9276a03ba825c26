"""`pytest-toolcall generate`: synthetic cases from tool schemas, as OpenAI's cookbook does.

1. Invocations are enumerated without a model (pure, deterministic): tools in name order,
   for each the product of its parameters' options: every `enum` value, both booleans, or
   a free value (integer, string, object, ...) that the model fills in; an optional
   parameter is also absent. `max_per_tool` keeps a seeded random sample, in order.
2. One request per invocation asks the model for the free values *and* the K user prompts,
   as one JSON object, so the prompts can state the values the model chose. Near-miss
   requests that the `reject_tool` must answer are asked for in batches of
   `REJECTS_PER_REQUEST`; repeats are replaced by top-up requests.
3. Every request goes through a cassette keyed by its body hash (record modes as for
   `pytest`), so the same tools and options replay offline. The answer is read as plain
   text (no `response_format`, which not every local server has) and the JSON is dug out of
   it. An unusable answer (no JSON, wrong shape, placeholders, values that do not fit the
   schema) is asked again as a fresh request that names the problem, with another sampling
   seed, up to `retries` times; what still fails is reported, never dropped silently.
4. The cases are written as a normal case file, checked with `load_suite` before an atomic
   rename. The suite's system prompt is stored in the file but not shown to the generating
   model (small models copy it into the prompts).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pytest_toolcall.casefile import CaseFileError, load_suite
from pytest_toolcall.cassettes import Cassette, CassetteError, model_slug
from pytest_toolcall.client import (
    CHAT_COMPLETIONS_PATH,
    Answer,
    Exchange,
    Sender,
    SendSettings,
    parse_completion,
    request_hash,
)
from pytest_toolcall.matching import ToolCall, judge
from pytest_toolcall.runner import DEFAULT_BASE_URL
from pytest_toolcall.yamlload import YamlError, load_yaml

MAX_INVOCATIONS_PER_TOOL = 100_000  # without --max-per-tool
REJECTS_PER_REQUEST = 10
NEAR_MISS_EXAMPLES_PER_REQUEST = 8
GENERATION_PARAMS: Mapping[str, Any] = {"temperature": 0.7, "max_tokens": 1024}
SUITE_PARAMS: Mapping[str, Any] = {"temperature": 0, "seed": 42}
REJECTS_TAG = "rejects"
SAVE_EVERY_S = 1.0

GENERATOR_SYSTEM = (
    "You write test and training data for an AI assistant that answers users by calling "
    "functions. You answer with one JSON object and nothing else: no prose, no code fences."
)
RETRY_NOTE = (
    "(Attempt {attempt}. An earlier answer could not be used: {problem}. Answer with the "
    "JSON object only, with real values in place of every <...>.)"
)


class GenerateError(Exception):
    """A generation that cannot start or finish; the message is one line for the user."""


class AnswerProblem(Exception):
    """Why a model's answer cannot be used (named in the retried request)."""


# ---- enumeration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Free:
    """A value the model fills in; `schema` is the parameter's JSON Schema."""

    schema: Mapping[str, Any] = field(hash=False)


_ABSENT: Any = object()  # an optional parameter left out


@dataclass(frozen=True)
class Invocation:
    """One call to generate prompts for: concrete values, or `Free` for the model to fill."""

    tool: str
    args: Mapping[str, Any]
    slug: str

    @property
    def free(self) -> list[str]:
        return [name for name, value in self.args.items() if isinstance(value, Free)]


def tool_name(tool: Mapping[str, Any]) -> str:
    return tool["function"]["name"]


def _parameters(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    return tool["function"].get("parameters") or {"type": "object", "properties": {}}


def parameter_options(schema: Mapping[str, Any], required: bool) -> list[Any]:
    """Every value a parameter takes in the enumeration (`_ABSENT` when optional)."""
    if "enum" in schema:
        values = list(schema["enum"])
    elif "const" in schema:
        values = [schema["const"]]
    elif schema.get("type") == "boolean":
        values = [True, False]
    else:
        values = [Free(schema)]
    return values if required else [*values, _ABSENT]


def _combination(index: int, options: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
    """The `index`-th element of `itertools.product(*options)`, without building the rest."""
    picked = []
    for values in reversed(options):
        index, position = divmod(index, len(values))
        picked.append(values[position])
    return tuple(reversed(picked))


def _slug_part(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_.") or "_"


def _slug(tool: str, args: Mapping[str, Any]) -> str:
    """`land_drone-home_base`: the tool, enum values, `name-true` for booleans, the names
    of free values; absent parameters leave no trace."""
    parts = [_slug_part(tool)]
    for name, value in args.items():
        if isinstance(value, Free):
            parts.append(_slug_part(name))
        elif isinstance(value, bool):
            parts.append(f"{_slug_part(name)}-{json.dumps(value)}")
        else:
            parts.append(_slug_part(value))
    return "-".join(parts)


def enumerate_invocations(
    tools: Sequence[Mapping[str, Any]],
    *,
    reject_tool: str | None = None,
    max_per_tool: int | None = None,
    seed: int = 0,
) -> list[Invocation]:
    """Every invocation of every tool but `reject_tool`, tools in name order."""
    invocations: list[Invocation] = []
    for tool in sorted(tools, key=tool_name):
        name = tool_name(tool)
        if name == reject_tool:
            continue
        parameters = _parameters(tool)
        properties = parameters.get("properties") or {}
        required = set(parameters.get("required") or ())
        names = list(properties)
        options = [parameter_options(properties[n], n in required) for n in names]
        count = math.prod(len(values) for values in options)
        if max_per_tool is not None and count > max_per_tool:
            picked: Iterable[int] = sorted(
                random.Random(f"{seed}:{name}").sample(range(count), max_per_tool)
            )
        elif count > MAX_INVOCATIONS_PER_TOOL:
            raise GenerateError(
                f"tool '{name}' has {count} invocations; cap them with --max-per-tool"
            )
        else:
            picked = range(count)
        seen: set[str] = set()
        for index in picked:
            combo = _combination(index, options)
            args = {n: v for n, v in zip(names, combo, strict=True) if v is not _ABSENT}
            slug = base = _slug(name, args)
            for number in itertools.count(2):
                if slug not in seen:
                    break
                slug = f"{base}.v{number}"
            seen.add(slug)
            invocations.append(Invocation(name, args, slug))
    return invocations


# ---- answers ----------------------------------------------------------------------------

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
    texts: list[str] = []
    seen: set[str] = set()
    for item in value:
        text = " ".join(item.split())
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            texts.append(text)
    return texts


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
    if keys := _dollar_keys(args):
        raise AnswerProblem(f"keys may not start with '$' ({', '.join(keys)})")
    call = ToolCall(invocation.tool, json.dumps(args))
    verdict = judge({"tool": invocation.tool, "args": args}, [call], {invocation.tool: parameters})
    if not verdict.passed:
        raise AnswerProblem(f"the arguments do not fit the schema: {verdict.detail}")
    return args, prompts[:k]


def parse_rejects(text: str | None, wanted: int) -> list[str]:
    """At least `wanted` distinct near-miss requests (a bare JSON list is accepted)."""
    payload = extract_json(text)
    requests = payload.get("requests") if isinstance(payload, dict) else payload
    texts = _distinct_texts(requests, "requests")
    if len(texts) < wanted:
        raise AnswerProblem(f"{len(texts)} distinct requests given, {wanted} wanted")
    return texts[:wanted]


# ---- requests ---------------------------------------------------------------------------


def _describe_call(tool: Mapping[str, Any], invocation: Invocation) -> list[str]:
    """The call in words: each argument's value (or `<choose>`), description and schema."""
    properties = _parameters(tool).get("properties") or {}
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


# ---- sending through the cassette -------------------------------------------------------


@dataclass
class Job:
    """One thing to ask the model for, asked again (naming the problem) until usable."""

    label: str
    prompt: str
    parse: Callable[[str | None], Any]
    problems: list[str] = field(default_factory=list)  # why earlier answers were unusable
    result: Any = None
    failure: str | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.failure is not None

    def body(self, model: str, seed: int) -> dict[str, Any]:
        """The request of the next attempt: a retry is the same task with the last problem
        added and another sampling seed (small models repeat a bad answer they are shown)."""
        prompt = self.prompt
        if self.problems:
            note = RETRY_NOTE.format(attempt=len(self.problems) + 1, problem=self.problems[-1])
            prompt += "\n\n" + note
        messages = [
            {"role": "system", "content": GENERATOR_SYSTEM},
            {"role": "user", "content": prompt},
        ]
        return {
            "model": model,
            "messages": messages,
            **GENERATION_PARAMS,
            "seed": seed + len(self.problems),
        }


Progress = Callable[[int, int], None]  # (done, total) requests


@dataclass
class Counts:
    """Requests answered from the cassette, sent, and asked again."""

    replayed: int = 0
    sent: int = 0
    retried: int = 0


class Asker:
    """Runs jobs in rounds: every pending request of a round concurrently, via a cassette.

    Record modes as in `runner`: none/once/new_episodes replay what is recorded; once and
    new_episodes record what is missing, none refuses to; all and rewrite ask everything
    again, rewrite also drops recordings this run did not use.
    """

    def __init__(
        self,
        model: str,
        cassette_file: Path,
        record_mode: str,
        send: SendSettings,
        *,
        seed: int,
        retries: int,
        progress: Progress | None = None,
    ) -> None:
        self.model = model
        self.record_mode = record_mode
        self.send = send
        self.sender = Sender(send)
        self.cassette = Cassette(cassette_file, redact=self.sender.redact)
        try:
            self.cassette.load()
        except CassetteError as exc:
            raise GenerateError(str(exc)) from None
        self.seed = seed
        self.retries = retries
        self.progress = progress or (lambda done, total: None)
        self.url = urlsplit(send.base_url or DEFAULT_BASE_URL).path.rstrip("/")
        self.url += CHAT_COMPLETIONS_PATH
        self.used: set[tuple[tuple[str, str, str], int]] = set()
        self.order: dict[str, int] = {}
        self.counts = Counts()
        self._done = 0
        self._total = 0

    def run(self, jobs: Sequence[Job]) -> None:
        """Until every job has a result or a failure."""
        for job in jobs:
            self.order.setdefault(job.label, len(self.order))
        while pending := [job for job in jobs if not job.done]:
            self._round(pending)

    def _round(self, jobs: Sequence[Job]) -> None:
        bodies = [job.body(self.model, self.seed) for job in jobs]
        self._total += len(jobs)
        answers: dict[int, Answer] = {}
        replays = self.record_mode in ("none", "once", "new_episodes")
        for index, body in enumerate(bodies):
            key = Cassette.key("POST", self.url, request_hash(body))
            self.used.add((key, 0))
            found = self.cassette.find("POST", self.url, key[2], 0) if replays else None
            if found is not None:
                answers[index] = parse_completion(found.body, latency_ms=found.latency_ms)
        self.counts.replayed += len(answers)
        self._done += len(answers)
        self.progress(self._done, self._total)
        missing = [index for index in range(len(jobs)) if index not in answers]
        if missing:
            self._check_can_send(len(missing))
            asyncio.run(self._send([(i, bodies[i], jobs[i].label) for i in missing], answers))
        for index, job in enumerate(jobs):
            self._judge(job, answers[index])

    def _check_can_send(self, count: int) -> None:
        what = f"{count} generation request{'s' if count != 1 else ''}"
        if self.record_mode == "none":
            raise GenerateError(
                f"no recording for {what} in {self.cassette.path}; record them with "
                "--record-mode once (and OPENAI_API_KEY or --base-url)"
            )
        if not self.send.api_key and not self.send.base_url:
            raise GenerateError(
                f"{what} must be sent, but neither OPENAI_API_KEY nor --base-url "
                "(OPENAI_BASE_URL) is set"
            )

    async def _send(
        self, todo: Sequence[tuple[int, Mapping[str, Any], str]], answers: dict[int, Answer]
    ) -> None:
        last_save = time.monotonic()

        def on_done(position: int, answer: Answer, exchange: Exchange | None) -> None:
            nonlocal last_save
            index, _, label = todo[position]
            answers[index] = answer
            self.counts.sent += 1
            self._done += 1
            if exchange is not None:
                self.cassette.put(exchange, label, 0)
                if time.monotonic() - last_save > SAVE_EVERY_S:
                    self.save()
                    last_save = time.monotonic()
            self.progress(self._done, self._total)

        await self.sender.send_all([body for _, body, _ in todo], on_done)

    def _judge(self, job: Job, answer: Answer) -> None:
        if answer.error is not None:
            job.failure = answer.error
            return
        try:
            job.result = job.parse(answer.text)
        except AnswerProblem as problem:
            if len(job.problems) < self.retries:
                job.problems.append(str(problem))
                self.counts.retried += 1
            else:
                tries = len(job.problems) + 1
                job.failure = f"{problem} (after {tries} attempt{'s' if tries > 1 else ''})"

    def save(self) -> None:
        """Write the cassette if it changed (atomically; `rewrite` drops unused ones)."""
        if self.record_mode == "rewrite":
            self.cassette.keep_only(self.used)
        if self.cassette.changed:
            self.cassette.save(self.order)


# ---- the whole generation ---------------------------------------------------------------


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


@dataclass
class GenerateReport:
    """What a generation produced, for the command's summary."""

    out: Path
    cassette: Path
    invocations: int = 0
    cases: int = 0
    rejects: int = 0
    counts: Counts = field(default_factory=Counts)
    failures: list[str] = field(default_factory=list)  # requests without a usable answer
    notes: list[str] = field(default_factory=list)  # cases left out on purpose
    written: bool = False


def generation_cassette_path(out: Path, model: str) -> Path:
    """`<out dir>/cassettes/<model slug>/<out stem>.generate.json`."""
    return out.parent / "cassettes" / model_slug(model) / f"{out.stem}.generate.json"


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GenerateError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GenerateError(f"cannot read {what} {path}: {exc}") from None


def read_tools(path: Path) -> list[dict[str, Any]]:
    """A Chat Completions `tools` list from a JSON/YAML file, roughly checked (the written
    suite is checked in full by `load_suite`)."""
    text = _read_text(path, "tools file")
    try:
        tools = load_yaml(text)
    except YamlError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise GenerateError(
            f"tools file {path} is not valid JSON/YAML{where}: {exc.problem}"
        ) from None
    if not isinstance(tools, list) or not tools:
        raise GenerateError(f"tools file {path} must hold a non-empty list of tools")
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


def _read_examples(path: Path | None) -> list[str]:
    if path is None:
        return []
    lines = _read_text(path, "near-miss file").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _check_options(options: GenerateOptions, tools: Sequence[Mapping[str, Any]]) -> None:
    names = [tool_name(tool) for tool in tools]
    if options.out.suffix not in (".yaml", ".yml"):
        raise GenerateError(f"--out {options.out}: a case file ends in .yaml or .yml")
    if options.reject_tool is not None and options.reject_tool not in names:
        raise GenerateError(
            f"--reject-tool {options.reject_tool} is not one of the tools: {', '.join(names)}"
        )
    if options.rejects and options.reject_tool is None:
        raise GenerateError("--rejects needs --reject-tool (the tool that rejects requests)")
    if options.system_path is not None:  # stored in the suite, not shown to the generator
        _read_text(options.system_path, "system prompt")


def _invocation_jobs(
    tools: Sequence[Mapping[str, Any]], invocations: Sequence[Invocation], k: int
) -> list[Job]:
    by_name = {tool_name(tool): tool for tool in tools}

    def parser(invocation: Invocation) -> Callable[[str | None], Any]:
        parameters = _parameters(by_name[invocation.tool])
        return lambda text: parse_fill(text, invocation, parameters, k)

    return [
        Job(
            invocation.slug,
            invocation_prompt(by_name[invocation.tool], invocation, k),
            parser(invocation),
        )
        for invocation in invocations
    ]


def _reject_jobs(
    tools: Sequence[Mapping[str, Any]],
    options: GenerateOptions,
    wanted: int,
    examples: Sequence[str],
    avoid: Sequence[str],
    round_number: int,
) -> list[Job]:
    """Batches of at most `REJECTS_PER_REQUEST`; each shows its own sample of the examples."""
    sizes = [REJECTS_PER_REQUEST] * (wanted // REJECTS_PER_REQUEST)
    sizes += [wanted % REJECTS_PER_REQUEST] if wanted % REJECTS_PER_REQUEST else []
    prefix = "rejects" if round_number == 0 else f"rejects-topup{round_number}"
    jobs = []
    for batch, size in enumerate(sizes, start=1):
        label = f"{prefix}-{batch}"
        rng = random.Random(f"{options.seed}:{label}")
        shown = rng.sample(list(examples), min(NEAR_MISS_EXAMPLES_PER_REQUEST, len(examples)))
        where = f"batch {batch} of {len(sizes)}" + (
            f", top-up {round_number}" if round_number else ""
        )
        prompt = rejects_prompt(tools, options.reject_tool or "", size, where, shown, avoid)
        jobs.append(Job(label, prompt, lambda text, size=size: parse_rejects(text, size)))
    return jobs


def _collect_rejects(
    asker: Asker,
    tools: Sequence[Mapping[str, Any]],
    options: GenerateOptions,
    examples: Sequence[str],
    jobs: Sequence[Job],
    failures: list[str],
) -> list[str]:
    """Distinct near-miss requests (not copies of the examples); top-ups replace repeats."""
    known = {text.casefold() for text in examples}
    texts: list[str] = []
    for round_number in itertools.count(1):
        for job in jobs:
            if job.failure:
                failures.append(f"{job.label}: {job.failure}")
                continue
            for text in job.result:
                if text.casefold() not in known and len(texts) < options.rejects:
                    known.add(text.casefold())
                    texts.append(text)
        short = options.rejects - len(texts)
        if any(job.failure for job in jobs):
            break
        if short and round_number > options.retries:
            failures.append(
                f"rejects: {len(texts)} distinct near-miss requests of {options.rejects} "
                f"after {round_number - 1} top-ups (the model repeated itself or the examples)"
            )
        if not short or round_number > options.retries:
            break
        jobs = _reject_jobs(tools, options, short, examples, texts, round_number)
        asker.run(jobs)
    return texts


def generate(options: GenerateOptions, progress: Progress | None = None) -> GenerateReport:
    """Generate, record or replay, and write the case file; failures are in the report."""
    tools = read_tools(options.tools_path)
    _check_options(options, tools)
    examples = _read_examples(options.near_misses_path)
    invocations = enumerate_invocations(
        tools,
        reject_tool=options.reject_tool,
        max_per_tool=options.max_per_tool,
        seed=options.seed,
    )
    asker = Asker(
        options.model,
        generation_cassette_path(options.out, options.model),
        options.record_mode,
        options.send,
        seed=options.seed,
        retries=options.retries,
        progress=progress,
    )
    report = GenerateReport(
        options.out, asker.cassette.path, invocations=len(invocations), counts=asker.counts
    )
    fill_jobs = _invocation_jobs(tools, invocations, options.prompts_per_call)
    reject_jobs = (
        _reject_jobs(tools, options, options.rejects, examples, [], 0) if options.rejects else []
    )
    rejects: list[str] = []
    try:
        asker.run([*fill_jobs, *reject_jobs])
        report.failures += [f"{job.label}: {job.failure}" for job in fill_jobs if job.failure]
        if reject_jobs:
            rejects = _collect_rejects(
                asker, tools, options, examples, reject_jobs, report.failures
            )
    finally:
        asker.save()
    cases = _cases(invocations, fill_jobs, rejects, options.reject_tool, report.notes)
    report.cases = len(cases)
    report.rejects = sum(REJECTS_TAG in case.get("tags", ()) for case in cases)
    if cases:
        write_suite(options, cases)
        report.written = True
    return report


# ---- the case file ----------------------------------------------------------------------


class _Flow(dict):
    """A mapping written in flow style: `{tool: x, args: {a: 1}}`."""


class _FlowList(list):
    """A list written in flow style: `[a, b]`."""


class _Dumper(yaml.SafeDumper):
    """Safe YAML that YAML 1.1 readers read back the same (`'on'`, `'y'` stay strings),
    with list items indented under their key, as people write case files."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


_Dumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))
_Dumper.add_representer(
    _Flow, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, True)
)
_Dumper.add_representer(
    _FlowList, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, True)
)


def _flow(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _Flow({key: _flow(item) for key, item in value.items()})
    if isinstance(value, list):
        return _FlowList(_flow(item) for item in value)
    return value


def _cases(
    invocations: Sequence[Invocation],
    jobs: Sequence[Job],
    rejects: Sequence[str],
    reject_tool: str | None,
    notes: list[str],
) -> list[dict[str, Any]]:
    """The case entries; a prompt already used by an earlier case is left out (noted)."""
    cases: list[dict[str, Any]] = []
    for invocation, job in zip(invocations, jobs, strict=True):
        if job.result is None:
            continue
        args, prompts = job.result
        expect = {"tool": invocation.tool, **({"args": args} if args else {})}
        for number, prompt in enumerate(prompts, start=1):
            cases.append(
                {"id": f"{invocation.slug}-{number}", "prompt": prompt, "expect": _flow(expect)}
            )
    for number, prompt in enumerate(rejects, start=1):
        cases.append(
            {
                "id": f"{reject_tool}-{number}",
                "prompt": prompt,
                "expect": _Flow({"tool": reject_tool}),
                "tags": _flow([REJECTS_TAG]),
            }
        )
    seen: set[str] = set()
    for case in cases:  # ids made of free-form enum values may collide: keep them unique
        base, number = case["id"], 2
        while case["id"] in seen:
            case["id"], number = f"{base}.{number}", number + 1
        seen.add(case["id"])
    first_with: dict[str, dict[str, Any]] = {}
    kept = []
    for case in cases:  # one prompt, two expected answers: a case that can never pass
        earlier = first_with.setdefault(case["prompt"].casefold(), case)
        if earlier is case:
            kept.append(case)
        else:
            notes.append(f"{case['id']}: same prompt as {earlier['id']}; left out")
    return kept


def _relative_path(target: Path, start: Path) -> str | None:
    try:
        return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()
    except ValueError:  # another drive
        return None


def _schema_comment(out: Path) -> str:
    schema = Path(str(resources.files("pytest_toolcall").joinpath("schema/casefile.schema.json")))
    relative = _relative_path(schema, out.parent)
    return f"# yaml-language-server: $schema={relative or schema.as_uri()}\n"


def render_suite(options: GenerateOptions, cases: Sequence[Mapping[str, Any]]) -> str:
    """The case file's text: schema comment, suite settings, the cases."""
    document: dict[str, Any] = {"suite": options.suite or options.out.stem}
    if options.system_path is not None:
        document["system"] = _relative_path(options.system_path, options.out.parent) or (
            _read_text(options.system_path, "system prompt")
        )
    document["tools"] = _relative_path(options.tools_path, options.out.parent) or read_tools(
        options.tools_path
    )
    document["tool_choice"] = "required"
    document["params"] = _Flow(SUITE_PARAMS)
    document["cases"] = list(cases)
    header = _schema_comment(options.out) + (
        f"# Generated by `pytest-toolcall generate` with {options.model} "
        f"from {options.tools_path.name}; review before relying on it.\n"
    )
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2
    )
    return header + body


def write_suite(options: GenerateOptions, cases: Sequence[Mapping[str, Any]]) -> None:
    """Write atomically, after checking that the file loads as a suite."""
    text = render_suite(options, cases)
    out = options.out
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        try:
            load_suite(Path(temp_name), out.parent)
        except CaseFileError as exc:
            raise GenerateError(f"the generated suite does not load: {exc.problem}") from None
        os.replace(temp_name, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


__all__ = [
    "AnswerProblem",
    "GenerateError",
    "GenerateOptions",
    "GenerateReport",
    "Invocation",
    "enumerate_invocations",
    "extract_json",
    "generate",
    "generation_cassette_path",
    "parse_fill",
    "parse_rejects",
]
