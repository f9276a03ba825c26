"""The `pytest-toolcall` command: `generate` synthetic cases, `export` fine-tuning JSONL,
`finetune` a model on it.

The options are in `cli_parser`; here each command is run and its outcome printed.

Usage errors print one line, `pytest-toolcall: error: ...`, and exit 2; a generation that
finished with failed requests, an export that refused lines, or a fine-tune that gave no
model, exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TextIO

from pytest_toolcall.collect.casefile import CaseFileError
from pytest_toolcall.datagen.cli_parser import DEFAULT_REJECTS, PROG, build_parser
from pytest_toolcall.send.transport import SendSettings

MAX_LISTED = 10
PROGRESS_EVERY_S = 0.1


class UsageError(Exception):
    """A bad command line or environment; printed as one line, exit status 2."""


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


def _run_finetune(args: argparse.Namespace) -> int:
    from pytest_toolcall.datagen.finetune import Finetune, FinetuneError, FinetuneOptions
    from pytest_toolcall.datagen.finetune_check import LineErrors

    options = FinetuneOptions(
        base_url=args.base_url or os.environ.get("OPENAI_BASE_URL") or None,
        api_key=os.environ.get("OPENAI_API_KEY") or None,
        train=args.train,
        val=args.val,
        model=args.model,
        suffix=args.suffix,
        epochs=args.epochs,
        seed=args.seed,
        job=args.job,
        poll_s=args.poll,
        timeout_s=args.timeout,
    )
    finetune = Finetune(options, sys.stderr)
    try:
        model = finetune.run()
    except LineErrors as exc:
        _list(str(exc), exc.problems)
        return exc.status
    except FinetuneError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print(f"\n{PROG}: {finetune.interrupted_text()}", file=sys.stderr)
        return 130
    print(model)
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
        run = {"generate": _run_generate, "export": _run_export, "finetune": _run_finetune}
        return run[args.command](args)
    except (UsageError, GenerateError, ExportError, CaseFileError, OSError) as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted (what was recorded is kept)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
