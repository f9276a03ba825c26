"""A cassette file read and written safely: clear errors, one writer at a time, no litter.

Writes are serialised per file: by a lock per path inside this process, and by an
advisory lock on the cassette's folder across processes (two runs on one checkout,
xdist workers), where the platform has one. A write goes through
`atomic_write.write_atomic`, so a reader sees the old file or the new one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

from pytest_toolcall.atomic_write import write_atomic

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: in-process locking only
    fcntl = None  # type: ignore[assignment]

_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


class CassetteError(Exception):
    """A cassette file that cannot be read or written."""


def read_text(path: Path) -> str | None:
    """The file's text, or None when there is no file."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None  # (a file where a folder should be is for `writable()` to say)
    except OSError as exc:
        raise CassetteError(f"cannot read cassette {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CassetteError(
            f"cannot read cassette {path}: it is not UTF-8 text (byte {exc.start}); fix it, "
            "or delete it and record again with --record-mode=once"
        ) from None


def signature(path: Path) -> tuple[int, int, int] | None:
    """What identifies one version of the file on disk (None: no file)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold this file's lock: in this process, and across processes on the folder."""
    key = path.absolute()
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.RLock())
    with lock:
        if fcntl is None or not path.parent.is_dir():
            yield
            return
        try:
            handle = os.open(path.parent, os.O_RDONLY)
        except OSError:
            yield
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)  # closing releases the flock


def writable(path: Path) -> str | None:
    """Why `path` cannot be written (its folder is read-only, not a folder...), or None."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f".{path.name}.{secrets.token_hex(6)}.probe"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as exc:
        where = exc.filename or path.parent
        return f"cannot write cassette {path}: {exc.strerror or exc} ({where})"
    if path.exists() and not os.access(path, os.W_OK):
        return f"cannot write cassette {path}: the file is read-only"
    return None


def write(path: Path, text: str) -> None:
    """Replace the file with `text` (atomically); remove temp files a killed run left."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
        write_atomic(path, text)
    except OSError as exc:
        where = exc.filename or path
        raise CassetteError(
            f"cannot write cassette {path}: {exc.strerror or exc} ({where}); "
            "the file on disk is unchanged"
        ) from None
