"""The pending-batch file: batches submitted and not yet collected, kept beside the cassettes.

One file per cassette folder, `<case dir>/cassettes/<model slug>/.batches.json`: every line
of a batch feeds a cassette of that folder (the sender groups batches so), so the file
travels with the cassettes it will fill. Commit it, and a later run on any machine with
the checkout collects the same batches instead of paying for them again.

Each batch is kept with what each of its lines is (custom_id -> cassette, case file, body
hash, sample) until every line was collected. A batch that ended without answers (failed,
expired, cancelled) is kept with how it ended, so the next run says why it submits those
requests again. Nothing secret is written: ids, hashes, file names, a scrubbed server URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_toolcall.atomic_write import write_atomic

PENDING_NAME = ".batches.json"
VERSION = 1
NOTE = (
    "pytest-toolcall: Batch API requests submitted and not yet collected. Keep this file "
    "(commit it) until a run with --toolcall-batch collects them into the cassettes here."
)


class PendingError(Exception):
    """The pending file cannot be read."""


def pending_path(cassette: Path) -> Path:
    """The pending file of the folder `cassette` is in."""
    return cassette.parent / PENDING_NAME


def custom_id(cassette: Path, endpoint: str, body_hash: str, sample: int) -> str:
    """The id joining a batch line to its cassette slot: the same on every run and machine
    (a digest of the cassette's name and the endpoint, the body hash, the sample), and
    different for every slot of a folder (they differ in one of these)."""
    where = hashlib.sha256(f"{cassette.name}\0{endpoint}".encode()).hexdigest()[:12]
    return f"tc-{where}-{body_hash}-{sample}"


def public_url(url: str | None) -> str | None:
    """`url` without what may be secret in it: user info, query, fragment."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


@dataclass
class Line:
    """What one batch line is: where its answer is recorded."""

    cassette: str  # file name, in the pending file's folder
    file: str  # the case file's node id, for people reading the file
    body_hash: str
    sample: int

    def to_json(self) -> dict[str, Any]:
        return {
            "cassette": self.cassette,
            "file": self.file,
            "body_hash": self.body_hash,
            "sample": self.sample,
        }


@dataclass
class PendingBatch:
    """One submitted batch and the lines not yet collected from it."""

    id: str
    endpoint: str
    server: str | None
    lines: dict[str, Line] = field(default_factory=dict)  # custom_id -> line
    ended: str | None = None  # "failed: ..." / "expired" / "cancelled": submit again

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "endpoint": self.endpoint, "server": self.server}
        if self.ended is not None:
            data["ended"] = self.ended
        data["lines"] = {cid: line.to_json() for cid, line in sorted(self.lines.items())}
        return data


class PendingFile:
    """The pending batches of one cassette folder; saved after every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batches: dict[str, PendingBatch] = {}

    def load(self) -> PendingFile:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self
        except OSError as exc:
            raise PendingError(f"{self.path}: cannot be read ({exc})") from None
        try:
            data = json.loads(text)
            for raw in data["batches"]:
                batch = PendingBatch(
                    id=str(raw["id"]),
                    endpoint=str(raw["endpoint"]),
                    server=raw.get("server"),
                    ended=raw.get("ended"),
                    lines={
                        str(cid): Line(
                            str(line["cassette"]),
                            str(line.get("file", "")),
                            str(line["body_hash"]),
                            int(line["sample"]),
                        )
                        for cid, line in raw["lines"].items()
                    },
                )
                self.batches[batch.id] = batch
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PendingError(
                f"{self.path}: not a pending-batch file ({type(exc).__name__}: {exc}); "
                "fix it, or delete it to submit its requests again"
            ) from None
        return self

    def add(self, batch: PendingBatch) -> None:
        self.batches[batch.id] = batch
        self.save()

    def save(self) -> None:
        """Write the file, or remove it once nothing is pending."""
        if not self.batches:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        data = {
            "note": NOTE,
            "version": VERSION,
            "batches": [batch.to_json() for batch in self.batches.values()],
        }
        write_atomic(self.path, json.dumps(data, indent=2) + "\n")
