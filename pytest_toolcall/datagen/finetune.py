"""`pytest-toolcall finetune`: check the JSONL, upload it, create one job, follow it.

Every line of the training (and validation) file is checked first (`finetune_check`: the
check `export` makes before it writes a line), before anything is sent: a hand-edited file
cannot waste a job. The files are uploaded as they are (`purpose=fine-tune`) and
waited on until processed, one job is created (never retried but on a 429 that is not
about quota, so an unanswered create cannot become two jobs), its id is printed at once
with the command that resumes it, and `finetune_poll.JobFollower` follows it. The
fine-tuned model's id is the last line of stdout.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import openai

from pytest_toolcall.datagen import finetune_poll
from pytest_toolcall.datagen.finetune_check import check_files
from pytest_toolcall.datagen.finetune_poll import (
    TERMINAL,
    FinetuneError,
    JobFollower,
    ending_text,
    resume_hint,
)
from pytest_toolcall.send.redaction import Redactor, api_error_text
from pytest_toolcall.send.transport import NO_KEY_PLACEHOLDER

SUFFIX = re.compile(r"[A-Za-z0-9._-]{1,64}")
OPENAI_MIN_EXAMPLES = 10
CREATE_RETRIES = 3  # 429s (not about quota) answered to the create before giving up
MAX_RETRY_AFTER_S = 60.0
FILE_POLL_S = 2.0  # at most, between reads of an uploaded file still being processed
FILE_WAIT_POLLS = 300


@dataclass
class FinetuneOptions:
    base_url: str | None
    api_key: str | None
    train: Path | None = None
    val: Path | None = None
    model: str | None = None
    suffix: str | None = None
    epochs: int | None = None
    seed: int | None = None
    job: str | None = None
    poll_s: float = 30.0
    timeout_s: float = 120.0


def _check_options(options: FinetuneOptions) -> None:
    if not options.api_key and not options.base_url:
        raise FinetuneError("neither OPENAI_API_KEY nor --base-url (OPENAI_BASE_URL) is set", 2)
    if options.job is not None:
        given = [
            name
            for name, value in (
                ("TRAIN", options.train),
                ("--val", options.val),
                ("--model", options.model),
                ("--suffix", options.suffix),
                ("--epochs", options.epochs),
                ("--seed", options.seed),
            )
            if value is not None
        ]
        if given:
            raise FinetuneError(f"--job resumes a job and takes no {', '.join(given)}", 2)
        return
    if options.train is None or not options.model:
        raise FinetuneError("a training file and --model are needed (or --job ID)", 2)
    if options.suffix is not None and not SUFFIX.fullmatch(options.suffix):
        raise FinetuneError(
            f"--suffix {options.suffix!r}: 1 to 64 letters, digits, '-', '_' or '.'", 2
        )
    if options.val is not None and options.val.resolve() == options.train.resolve():
        raise FinetuneError(f"--val {options.val} is the training file", 2)


def make_client(options: FinetuneOptions) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=options.api_key or NO_KEY_PLACEHOLDER,
        base_url=options.base_url,
        timeout=options.timeout_s,
    )


class Finetune:
    """One `finetune` command: `run` returns the fine-tuned model's id or raises."""

    def __init__(self, options: FinetuneOptions, err: TextIO | None = None) -> None:
        self.options = options
        self.err = err or sys.stderr
        self.redactor = Redactor.for_run(options.api_key)
        self.job_id: str | None = None
        self.uploaded: list[str] = []
        self.creating = False
        self.follower: JobFollower | None = None

    def say(self, text: str) -> None:
        print(f"pytest-toolcall: {self.redactor.mask(text)}", file=self.err, flush=True)

    def run(self) -> str:
        options = self.options
        _check_options(options)
        client = make_client(options)
        if options.job is not None:
            self.job_id = options.job
        else:
            assert options.train is not None
            files = [("TRAIN", options.train), ("--val", options.val)]
            checked = check_files([(name, path) for name, path in files if path])
            self._warn_about(checked)
            ids = [self._upload(client, path, data) for path, data in checked]
            self._wait_processed(client, ids)
            job = self._create(client, ids[0], ids[1] if len(ids) > 1 else None)
            self.job_id = job.id
            self.say(f"created fine-tuning job {job.id} ({job.model}); {resume_hint(job.id)}")
        assert self.job_id is not None
        if options.job is not None:
            self.say(f"resuming fine-tuning job {self.job_id}")
        self.follower = JobFollower(
            client, self.job_id, interval=options.poll_s, err=self.err, redactor=self.redactor
        )
        job = self.follower.follow()
        if job.status == "succeeded" and job.fine_tuned_model:
            return str(job.fine_tuned_model)
        raise FinetuneError(f"fine-tuning job {job.id} {ending_text(job)}")

    def _warn_about(self, checked: Sequence[tuple[Path, bytes]]) -> None:
        train = checked[0][1].decode().splitlines()
        if len(train) < OPENAI_MIN_EXAMPLES:
            self.say(
                f"warning: {checked[0][0]} has {len(train)} examples; OpenAI's fine-tuning "
                f"needs at least {OPENAI_MIN_EXAMPLES} (a local server may not)"
            )
        if len(checked) > 1:
            both = set(train) & set(checked[1][1].decode().splitlines())
            if both:
                self.say(
                    f"warning: {len(both)} example(s) are in both {checked[0][0]} and "
                    f"{checked[1][0]}: validation on them says nothing"
                )

    def _upload(self, client: openai.OpenAI, path: Path, data: bytes) -> str:
        try:
            file = client.files.create(file=(path.name, data), purpose="fine-tune")
        except openai.OpenAIError as exc:
            raise FinetuneError(
                f"uploading {path} failed: {api_error_text(exc, self.redactor)}"
                + self._no_job_yet()
            ) from exc
        self.uploaded.append(file.id)
        lines = len(data.splitlines())
        self.say(f"uploaded {path} ({lines} line{'' if lines == 1 else 's'}) as {file.id}")
        return file.id

    def _wait_processed(self, client: openai.OpenAI, ids: Sequence[str]) -> None:
        for file_id in ids:
            for _ in range(FILE_WAIT_POLLS):
                try:
                    file = client.files.retrieve(file_id)
                except openai.OpenAIError as exc:
                    text = api_error_text(exc, self.redactor)
                    raise FinetuneError(
                        f"reading {file_id} failed: {text}" + self._no_job_yet()
                    ) from exc
                if file.status == "error":
                    raise FinetuneError(
                        f"the API refused {file_id}: {file.status_details or 'no reason given'}"
                        + self._no_job_yet()
                    )
                if file.status != "uploaded":  # processed (or a server without the field)
                    break
                finetune_poll.sleep(min(self.options.poll_s, FILE_POLL_S))

    def _create(self, client: openai.OpenAI, train_id: str, val_id: str | None) -> Any:
        options = self.options
        params: dict[str, Any] = {"model": options.model, "training_file": train_id}
        if val_id is not None:
            params["validation_file"] = val_id
        if options.suffix is not None:
            params["suffix"] = options.suffix
        if options.seed is not None:
            params["seed"] = options.seed
        if options.epochs is not None:
            hyperparameters = {"n_epochs": options.epochs}
            params["method"] = {
                "type": "supervised",
                "supervised": {"hyperparameters": hyperparameters},
            }
        once = client.with_options(max_retries=0)
        for attempt in range(CREATE_RETRIES + 1):
            try:
                self.creating = True
                return once.fine_tuning.jobs.create(**params)
            except openai.RateLimitError as exc:
                quota = isinstance(exc.body, dict) and exc.body.get("code") == "insufficient_quota"
                if quota or attempt == CREATE_RETRIES:
                    raise self._refused(exc) from exc
                wait = _retry_after(exc, 2.0**attempt)
                self.say(f"rate limited creating the job; asking again in {wait:g} s")
                finetune_poll.sleep(wait)
            except openai.APIStatusError as exc:
                if exc.status_code >= 500:
                    raise self._unanswered(exc) from exc
                raise self._refused(exc) from exc
            except openai.APIConnectionError as exc:
                raise self._unanswered(exc) from exc
            finally:
                self.creating = False
        raise AssertionError("unreachable")

    def _refused(self, exc: Exception) -> FinetuneError:
        return FinetuneError(
            f"the API refused the fine-tuning job: {api_error_text(exc, self.redactor)}"
            + self._no_job_yet()
        )

    def _unanswered(self, exc: Exception) -> FinetuneError:
        return FinetuneError(
            f"creating the fine-tuning job got no answer ({api_error_text(exc, self.redactor)}):"
            " a job may have been created anyway; look at your fine-tuning jobs before running"
            f" this again (uploaded {', '.join(self.uploaded)})"
        )

    def _no_job_yet(self) -> str:
        files = f"; uploaded {', '.join(self.uploaded)}" if self.uploaded else ""
        return f" (no job created{files})"

    def interrupted_text(self) -> str:
        """What Ctrl-C left behind, in one line."""
        if self.creating:
            return (
                "interrupted while the fine-tuning job was being created: it may exist; look at"
                " your fine-tuning jobs before running this again"
                f" (uploaded {', '.join(self.uploaded)})"
            )
        if self.job_id is None:
            return "interrupted before a fine-tuning job was created" + (
                f" (uploaded {', '.join(self.uploaded)})" if self.uploaded else ""
            )
        if self.follower is not None and self.follower.status in TERMINAL:
            return f"interrupted; fine-tuning job {self.job_id} has ended ({self.follower.status})"
        return (
            f"interrupted; fine-tuning job {self.job_id} goes on (it is not cancelled); "
            + resume_hint(self.job_id)
        )


def _retry_after(exc: openai.APIStatusError, default: float) -> float:
    try:
        value = float(exc.response.headers.get("retry-after", default))
    except ValueError:
        value = default
    return min(max(value, 0.0), MAX_RETRY_AFTER_S)
