"""The `pytest-toolcall` command line: its subcommands, options and their checks.

Usage errors print one line, `pytest-toolcall: error: ...`, and exit 2.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import NoReturn

from pytest_toolcall.cassettes import RECORD_MODES

PROG = "pytest-toolcall"
DEFAULT_REJECTS = 10
HELP_WIDTH = 88
GENERATE_EXAMPLE = """\
example:
  pytest-toolcall generate --tools cases/drone/tools.json --model gpt-4o \\
      --out cases/drone/generated.yaml --system cases/drone/system_prompt.txt \\
      --reject-tool reject_request --rejects 20 --near-misses near_misses.txt

  A local OpenAI-compatible server: --base-url http://127.0.0.1:8088/v1 --concurrency 1.
  The same command again replays the cassette (no key, no network); --record-mode none
  makes that an error instead of a request, --record-mode all asks everything again.
"""
EXPORT_EXAMPLE = """\
example:
  pytest-toolcall export cases/drone/*.yaml --out train.jsonl --strip-descriptions \\
      --val-split 0.1 --seed 0          # writes train.jsonl and train.val.jsonl
"""
FINETUNE_EXAMPLE = """\
example:
  pytest-toolcall finetune train.jsonl --val train.val.jsonl --model gpt-4o-mini-2024-07-18 \\
      --suffix drone --seed 0           # prints the ft: model id as its last line
  pytest-toolcall finetune --job ftjob-abc123   # follow it again after Ctrl-C or a CI limit
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=HELP_WIDTH)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, not {value}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, not {value}")
    return value


def _interval(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Author tool-calling suites and fine-tuning data for pytest-toolcall.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_generate(commands)
    _add_export(commands)
    _add_finetune(commands)
    return parser


def _add_generate(commands: argparse._SubParsersAction) -> None:
    generate = commands.add_parser(
        "generate",
        help="synthetic cases from tool schemas (the cookbook's recipe)",
        description=_wrap(
            "Enumerate invocations of every tool (each combination of enum values, both "
            "booleans, optional parameters present and absent), let the model fill free "
            "values and write user prompts for each, add near-miss requests the reject tool "
            "must answer, and write a case file to review. Requests go through the cassette "
            "<out dir>/cassettes/<model>/<out stem>.generate.json, so the same command "
            "replays offline."
        ),
        epilog=GENERATE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate.add_argument(
        "--tools", required=True, type=Path, metavar="FILE", help="tools JSON/YAML file"
    )
    generate.add_argument(
        "--model", required=True, metavar="M", help="the model that writes the cases"
    )
    generate.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="case file to write (.yaml)"
    )
    generate.add_argument(
        "--base-url", metavar="URL", help="OpenAI-compatible API base URL (else OPENAI_BASE_URL)"
    )
    generate.add_argument(
        "--record-mode",
        choices=RECORD_MODES,
        default="once",
        help="cassette mode (default once: replay what is recorded, record what is missing; "
        "none: offline only; all/rewrite: ask again)",
    )
    generate.add_argument(
        "--prompts-per-call",
        type=_positive,
        default=3,
        metavar="K",
        help="user prompts per invocation (default 3)",
    )
    generate.add_argument(
        "--max-per-tool",
        type=_positive,
        metavar="N",
        help="keep a seeded sample of at most N invocations per tool",
    )
    generate.add_argument(
        "--seed", type=int, default=0, help="seed of the sampling and of the requests (default 0)"
    )
    generate.add_argument(
        "--reject-tool", metavar="NAME", help="the tool that rejects impossible requests"
    )
    generate.add_argument(
        "--rejects",
        type=_count,
        metavar="N",
        help=f"near-miss requests to reject (default {DEFAULT_REJECTS} with --reject-tool)",
    )
    generate.add_argument(
        "--near-misses", type=Path, metavar="FILE", help="example near-miss requests, one a line"
    )
    generate.add_argument(
        "--system", type=Path, metavar="FILE", help="system prompt file the suite refers to"
    )
    generate.add_argument(
        "--suite", metavar="NAME", help="suite name (default: the output file's stem)"
    )
    generate.add_argument(
        "--threshold",
        type=_share,
        default=0.8,
        metavar="T",
        help="the written suite's threshold (default 0.8: generated cases need review)",
    )
    generate.add_argument(
        "--concurrency",
        type=_positive,
        default=4,
        metavar="N",
        help="requests in flight (default 4)",
    )
    generate.add_argument(
        "--timeout",
        type=_seconds,
        default=300.0,
        metavar="S",
        help="seconds per request (default 300)",
    )
    generate.add_argument(
        "--retries",
        type=_count,
        default=2,
        metavar="N",
        help="times an unusable answer is asked again, quoting the problem (default 2)",
    )
    generate.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _add_export(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="case files -> chat fine-tuning JSONL",
        description=_wrap(
            "Write one chat fine-tuning example per case: system, user (and earlier turns), "
            "the assistant's tool_calls with JSON-string arguments, and the tools. "
            "Operators are resolved to one concrete valid value ($one_of: first option, "
            "$approx: its value, $between: lower bound); cases without one ($regex, "
            "$contains, $any, no_call) are skipped and counted."
        ),
        epilog=EXPORT_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("files", nargs="+", help="case files or directories")
    export.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="JSONL file to write"
    )
    export.add_argument(
        "--strip-descriptions",
        action="store_true",
        help="remove every description from the tools (as the cookbook's fine-tuned model)",
    )
    export.add_argument(
        "--val-split",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="share of lines written to a validation file instead (e.g. 0.1)",
    )
    export.add_argument(
        "--val-out",
        type=Path,
        metavar="FILE",
        help="validation file (default: <out stem>.val.jsonl)",
    )
    export.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")


def _add_finetune(commands: argparse._SubParsersAction) -> None:
    finetune = commands.add_parser(
        "finetune",
        help="upload fine-tuning JSONL, run one job, print the fine-tuned model's id",
        description=_wrap(
            "Check every line (the checks export makes), upload the files (purpose "
            "fine-tune), create one fine-tuning job, print its id at once on stderr, then "
            "poll it, printing its status and new events on stderr. On success the "
            "fine-tuned model's id is the last line of stdout (exit 0); a failed or "
            "cancelled job, or one the API refuses, exits 1. Ctrl-C stops following "
            "(exit 130) without cancelling the job; --job ID follows it again."
        ),
        epilog=FINETUNE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    finetune.add_argument("train", nargs="?", type=Path, metavar="TRAIN", help="training JSONL")
    finetune.add_argument("--val", type=Path, metavar="FILE", help="validation JSONL")
    finetune.add_argument("--model", metavar="BASE", help="the base model to fine-tune")
    finetune.add_argument(
        "--suffix", metavar="S", help="added to the model's name (1-64 of A-Z a-z 0-9 . _ -)"
    )
    finetune.add_argument(
        "--epochs", type=_positive, metavar="N", help="epochs (default: the API's)"
    )
    finetune.add_argument("--seed", type=int, metavar="N", help="the job's seed")
    finetune.add_argument(
        "--poll",
        type=_interval,
        default=30.0,
        metavar="SECONDS",
        help="seconds between reads of the job (default 30)",
    )
    finetune.add_argument(
        "--job", metavar="ID", help="follow this job (started before) instead of creating one"
    )
    finetune.add_argument(
        "--base-url", metavar="URL", help="OpenAI-compatible API base URL (else OPENAI_BASE_URL)"
    )
    finetune.add_argument(
        "--timeout",
        type=_seconds,
        default=120.0,
        metavar="S",
        help="seconds per request (default 120)",
    )
