"""The files a case file's loading reads, recorded so a cached result can be checked.

Collection reads every file through `read_bytes` and asks about optional ones through
`is_file`; inside `tracking()` each read is noted as (path, sha256 of its bytes), each file
found absent (or not a regular file) as (path, None). `unchanged` tells if they still are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

Read = tuple[str, "str | None"]  # path, sha256 hex of its bytes (None: no such file)

CHANGED = "changed while read"  # matches no digest: such a result is never reused
_current: ContextVar[dict[str, str | None] | None] = ContextVar("toolcall_reads", default=None)


@contextmanager
def tracking() -> Iterator[dict[str, str | None]]:
    """Record, in the yielded dict (path -> digest or None), what is read inside."""
    reads: dict[str, str | None] = {}
    token = _current.set(reads)
    try:
        yield reads
    finally:
        _current.reset(token)


def read_bytes(path: Path) -> bytes:
    """`path.read_bytes()`, noted (a missing file too, before the error propagates)."""
    try:
        data = path.read_bytes()
    except OSError:
        _note(path, None)
        raise
    _note(path, hashlib.sha256(data).hexdigest())
    return data


def read_text(path: Path) -> str:
    """`path.read_text(encoding="utf-8")` (universal newlines), through `read_bytes`."""
    return text_of(read_bytes(path))


def text_of(data: bytes) -> str:
    """A file's bytes as `read_text` gives them: UTF-8, universal newlines."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def is_file(path: Path) -> bool:
    """`path.is_file()`; a no is noted (a file appearing there later changes the result)."""
    found = path.is_file()
    if not found:
        _note(path, None)
    return found


def digest_of(path: Path) -> str | None:
    """What `read_bytes` would note for `path` now."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        return None


def unchanged(reads: Iterable[Read]) -> bool:
    """Whether every file recorded still has the same bytes (or is still absent)."""
    return all(digest_of(Path(path)) == digest for path, digest in reads)


def _note(path: Path, digest: str | None) -> None:
    reads = _current.get()
    if reads is not None:
        key = str(path)
        if key in reads and reads[key] != digest:
            digest = CHANGED  # read twice, with other bytes: the result must not be reused
        reads[key] = digest
