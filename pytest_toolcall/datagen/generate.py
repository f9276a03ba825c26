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

import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_toolcall.cassettes import model_slug
from pytest_toolcall.datagen.generation_asker import Asker, Counts, Job, Progress
from pytest_toolcall.datagen.generation_inputs import (
    GenerateError,
    GenerateOptions,
    read_examples,
    read_text,
    read_tools,
)
from pytest_toolcall.datagen.generation_prompts import (
    invocation_prompt,
    parse_fill,
    parse_rejects,
    rejects_prompt,
)
from pytest_toolcall.datagen.invocations import (
    Invocation,
    enumerate_invocations,
    tool_name,
    tool_parameters,
)
from pytest_toolcall.datagen.suite_writer import REJECTS_TAG, case_entries, write_suite

REJECTS_PER_REQUEST = 10
NEAR_MISS_EXAMPLES_PER_REQUEST = 8


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
    shortfalls: list[str] = field(default_factory=list)  # invocations that kept fewer prompts
    written: bool = False


def generation_cassette_path(out: Path, model: str) -> Path:
    """`<out dir>/cassettes/<model slug>/<out stem>.generate.json`."""
    return out.parent / "cassettes" / model_slug(model) / f"{out.stem}.generate.json"


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
        read_text(options.system_path, "system prompt")


def _invocation_jobs(
    tools: Sequence[Mapping[str, Any]], invocations: Sequence[Invocation], k: int
) -> list[Job]:
    by_name = {tool_name(tool): tool for tool in tools}

    def parser(invocation: Invocation) -> Callable[[str | None], Any]:
        parameters = tool_parameters(by_name[invocation.tool])
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
    examples = read_examples(options.near_misses_path)
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
        options.out, asker.cassette_path, invocations=len(invocations), counts=asker.counts
    )
    fill_jobs = _invocation_jobs(tools, invocations, options.prompts_per_call)
    reject_jobs = (
        _reject_jobs(tools, options, options.rejects, examples, [], 0) if options.rejects else []
    )
    rejects: list[str] = []
    complete = False
    try:
        asker.run([*fill_jobs, *reject_jobs])
        report.failures += [f"{job.label}: {job.failure}" for job in fill_jobs if job.failure]
        report.shortfalls += [f"{job.label}: {job.shortfall}" for job in fill_jobs if job.shortfall]
        if reject_jobs:
            rejects = _collect_rejects(
                asker, tools, options, examples, reject_jobs, report.failures
            )
        complete = True
    finally:
        asker.save(complete=complete)
    fills = [job.result for job in fill_jobs]
    parameters = {tool_name(tool): tool_parameters(tool) for tool in tools}
    cases = case_entries(invocations, fills, rejects, options.reject_tool, report.notes, parameters)
    report.cases = len(cases)
    report.rejects = sum(REJECTS_TAG in case.get("tags", ()) for case in cases)
    if cases:
        write_suite(options, cases)
        report.written = True
    return report


__all__ = [
    "GenerateError",
    "GenerateOptions",
    "GenerateReport",
    "generate",
    "generation_cassette_path",
]
