"""The `pytest-toolcall` command: `generate` synthetic cases, `export` fine-tuning JSONL.

Usage errors print one line, `pytest-toolcall: error: ...`, and exit 2; a generation that
finished with failed requests, or an export that refused lines, exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import NoReturn, TextIO

from pytest_toolcall.cassettes import RECORD_MODES
from pytest_toolcall.collect.casefile import CaseFileError
from pytest_toolcall.send.transport import SendSettings

PROG = "pytest-toolcall"
DEFAULT_REJECTS = 10
MAX_LISTED = 10
PROGRESS_EVERY_S = 0.1
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


class UsageError(Exception):
    """A bad command line or environment; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


class ProgressBar:
    """`generate [#######.......] 12/40 requests` on stderr: redrawn in place on a terminal,
    one line per finished round otherwise."""

    def __init__(self, stream: TextIO, label: str = "generate", width: int = 28) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self.tty = stream.isatty()
        self._last = 0.0
        self._shown = ""

    def __call__(self, done: int, total: int) -> None:
        finished = done >= total
        now = time.monotonic()
        if self.tty and (finished or now - self._last >= PROGRESS_EVERY_S):
            self._last = now
            self.stream.write("\r" + self._text(done, total))
            self.stream.flush()
        elif not self.tty and finished and total:
            text = self._text(done, total)
            if text != self._shown:
                self.stream.write(text + "\n")
            self._shown = text

    def _text(self, done: int, total: int) -> str:
        filled = self.width * done // total if total else self.width
        return f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} requests"

    def close(self) -> None:
        if self.tty and self._last:
            self.stream.write("\n")
            self.stream.flush()


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
    generate.set_defaults(run=_run_generate)


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
    export.set_defaults(run=_run_export)


def _run_generate(args: argparse.Namespace) -> int:
    from pytest_toolcall.datagen.generate import GenerateOptions, generate

    rejects = args.rejects
    if rejects is None:
        rejects = DEFAULT_REJECTS if args.reject_tool else 0
    options = GenerateOptions(
        tools_path=args.tools,
        model=args.model,
        out=args.out,
        send=SendSettings(
            base_url=args.base_url or os.environ.get("OPENAI_BASE_URL") or None,
            api_key=os.environ.get("OPENAI_API_KEY") or None,
            concurrency=args.concurrency,
            timeout_s=args.timeout,
        ),
        record_mode=args.record_mode,
        prompts_per_call=args.prompts_per_call,
        max_per_tool=args.max_per_tool,
        seed=args.seed,
        reject_tool=args.reject_tool,
        rejects=rejects,
        near_misses_path=args.near_misses,
        system_path=args.system,
        retries=args.retries,
        suite=args.suite,
        threshold=args.threshold,
    )
    progress = None if args.no_progress else ProgressBar(sys.stderr)
    try:
        report = generate(options, progress)
    finally:
        if progress is not None:
            progress.close()
    counts = report.counts
    if report.written:
        print(
            f"wrote {report.out}: {report.cases} cases ({report.invocations} invocations, "
            f"{args.prompts_per_call} prompts each; {report.rejects} rejects)"
        )
    print(
        f"{counts.replayed + counts.sent} requests ({counts.replayed} replayed, "
        f"{counts.sent} sent, {counts.retried} asked again); cassette {report.cassette}"
    )
    if report.notes:
        _list(f"{_plural(len(report.notes), 'case')} with a repeated prompt left out", report.notes)
    if report.shortfalls:
        _list(
            f"{_plural(len(report.shortfalls), 'invocation')} kept fewer prompts (the others "
            "did not state the call's values)",
            report.shortfalls,
        )
    if report.failures:
        _list(f"{_plural(len(report.failures), 'generation request')} failed", report.failures)
        if not report.written:
            print(f"{PROG}: nothing written", file=sys.stderr)
        return 1
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from pytest_toolcall.datagen.export import case_files, default_val_path, export, skipped_text

    if args.val_out is not None and not args.val_split:
        raise UsageError("--val-out needs --val-split")
    report = export(
        case_files(args.files),
        args.out,
        strip=args.strip_descriptions,
        val_split=args.val_split,
        seed=args.seed,
        val_out=args.val_out,
    )
    if args.val_split:
        val_path = args.val_out or default_val_path(args.out)
        print(f"wrote {_plural(report.train, 'line')} to {args.out} and {report.val} to {val_path}")
    else:
        print(f"wrote {_plural(report.written, 'line')} to {args.out}")
    if skipped := skipped_text(report):
        print(skipped)
    if report.repeats:
        _list(
            f"{_plural(len(report.repeats), 'repeated example')} left out (each is written once)",
            report.repeats,
        )
    for warning in report.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    if report.rejected:
        _list(
            f"{_plural(len(report.rejected), 'case')} failed the line check and were left out",
            report.rejected,
        )
        return 1
    return 0


def _list(title: str, items: list[str]) -> None:
    print(f"{PROG}: {title}:", file=sys.stderr)
    for item in items[:MAX_LISTED]:
        print(f"  {item}", file=sys.stderr)
    if len(items) > MAX_LISTED:
        print(f"  ... and {len(items) - MAX_LISTED} more", file=sys.stderr)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pytest-toolcall` console script."""
    from pytest_toolcall.datagen.export import ExportError
    from pytest_toolcall.datagen.generate import GenerateError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except (UsageError, GenerateError, ExportError, CaseFileError, OSError) as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted (what was recorded is kept)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
