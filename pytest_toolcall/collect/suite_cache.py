"""Loaded suites kept in pytest's cache, so an unchanged case file is not parsed again.

One entry per case file under `.pytest_cache/d/toolcall-suites/` (`--cache-clear` clears
it): a JSON header line, then the pickled `Suite` (base64). The header holds the key and
every file the loading read with the sha256 of its bytes (or that it was absent); an
entry is used only when the key matches and each of those files still hashes the same.
The key covers what else the result depends on: this package's code, the Python, PyYAML,
jsonschema and pytest versions, the markers registered, `rootdir`, the path and the
arguments of `load_suite`. Only a suite that loaded without error is stored; a recording
run (`relist_mcp`) neither reads nor writes entries. A bad entry is ignored; a failed
write is silent. Without pytest's cacheprovider (`-p no:cacheprovider`) nothing is cached.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_toolcall.atomic_write import write_atomic
from pytest_toolcall.collect import reads
from pytest_toolcall.collect.casefile import Suite, load_suite
from pytest_toolcall.gc_pause import gc_paused

CACHE_DIR = "toolcall-suites"
ENTRY_FORMAT = 1
CASE_TAG_MARKER = "{tag}: a case tag (YAML)"  # the marker line nodes.py adds for each tag
DEPENDENCIES = ("pyyaml", "jsonschema", "jsonschema-specifications", "referencing", "pytest")
_ENTRIES_KEY = pytest.StashKey[Path | None]()


def load_cached(config: pytest.Config, path: Path, rootdir: Path, *, relist_mcp: bool) -> Suite:
    """`load_suite(path, rootdir, relist_mcp=...)`, from the cache when it holds its result."""
    entries = None if relist_mcp else _entries_dir(config)
    if entries is None:
        return load_suite(path, rootdir, relist_mcp=relist_mcp)
    key = _key(config, path, rootdir, relist_mcp)
    entry = entries / f"{_digest(str(path.resolve()).encode('utf-8', 'surrogatepass'))}.suite"
    suite = _fetch(entry, key, path)
    if suite is None:
        with reads.tracking() as read:
            suite = load_suite(path, rootdir, relist_mcp=relist_mcp)
        _store(entry, key, read, suite)
    return suite


def _entries_dir(config: pytest.Config) -> Path | None:
    """The cache's directory of suites (made once per run), or None: no caching."""
    if _ENTRIES_KEY not in config.stash:
        cache_ = getattr(config, "cache", None)
        try:
            config.stash[_ENTRIES_KEY] = None if cache_ is None else cache_.mkdir(CACHE_DIR)
        except (OSError, ValueError):
            config.stash[_ENTRIES_KEY] = None
    return config.stash[_ENTRIES_KEY]


def _key(config: pytest.Config, path: Path, rootdir: Path, relist_mcp: bool) -> str:
    """What, besides the files read, the loaded suite depends on, as one digest."""
    parts = [
        ENTRY_FORMAT,
        _environment(),
        _marker_names(config),
        [str(path), str(path.resolve()), str(rootdir), str(rootdir.resolve()), relist_mcp],
    ]
    return _digest(json.dumps(parts).encode("utf-8", "surrogatepass"))


@cache
def _environment() -> list[Any]:
    """This package's code (every file of it), Python and the dependencies' versions."""
    package = Path(__file__).resolve().parent.parent
    code = hashlib.sha256()
    for file in sorted(package.rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
            code.update(f"{file.relative_to(package).as_posix()}\0".encode())
            code.update(_digest(file.read_bytes()).encode())
    versions = []
    for name in DEPENDENCIES:
        try:
            versions.append(metadata.version(name))
        except metadata.PackageNotFoundError:
            versions.append(None)
    libyaml = hasattr(yaml, "CSafeLoader")
    return [code.hexdigest(), sys.version, sys.implementation.cache_tag, versions, libyaml]


def _marker_names(config: pytest.Config) -> list[str]:
    """The names of the markers registered (`pytest --markers`), less our case tags'."""
    names = set()
    for line in config.getini("markers"):
        name = re.split(r"[:(]", line, maxsplit=1)[0].strip()
        if line != CASE_TAG_MARKER.format(tag=name):
            names.add(name)
    return sorted(names)


def _fetch(entry: Path, key: str, path: Path) -> Suite | None:
    """The suite stored in `entry` if it is still what loading `path` would give, else None."""
    try:
        with entry.open("rb") as stream:
            header = json.loads(stream.readline())
            if header.get("key") != key or not reads.unchanged(header["reads"]):
                return None
            suite = _unpickled(base64.b64decode(stream.read(), validate=True))
    except Exception:  # missing, truncated, corrupt, of another version: just not used
        return None
    return suite if isinstance(suite, Suite) and suite.path == path else None


@gc_paused()  # the suite's objects are many and none of them garbage
def _unpickled(data: bytes) -> Any:
    return pickle.loads(data)


def _store(entry: Path, key: str, read: dict[str, str | None], suite: Suite) -> None:
    """Write the entry (atomically); any failure leaves the cache as it was, silently."""
    if reads.CHANGED in read.values():
        return
    try:
        payload = base64.b64encode(pickle.dumps(suite, protocol=pickle.HIGHEST_PROTOCOL))
        header = json.dumps({"key": key, "reads": sorted(read.items())})
        write_atomic(entry, f"{header}\n{payload.decode('ascii')}")
    except Exception:  # read-only cache, full disk, an object pickle cannot take
        return


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
