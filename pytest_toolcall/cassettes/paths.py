"""Where a cassette lives: `<case dir>/cassettes/<model slug>/<file stem>.json`."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^a-z0-9._-]")  # uppercase too: macOS and Windows ignore case
MAX_READABLE_CHARS = 80
SUFFIX_HEX = 10


def model_slug(model: str) -> str:
    """A model id made one safe path component, different for every id.

    An id that is already safe (lowercase letters, digits, `.`, `_`, `-`) is its own slug
    (`gpt-4o-mini`). Any other id is made readable and tagged with a short hash of the
    exact id after a `~`, a character no safe id contains, so `a:b` and `a_b` never share
    a folder (`ft:gpt-4o:acme::x` -> `ft_gpt-4o_acme__x~<hash>`), nor do `GPT-4o` and
    `gpt-4o` on a file system that ignores case.
    """
    readable = _UNSAFE.sub("_", model.lower()).strip(".")[:MAX_READABLE_CHARS] or "_"
    if readable == model:
        return model
    digest = hashlib.sha256(model.encode("utf-8", "surrogatepass")).hexdigest()[:SUFFIX_HEX]
    return f"{readable}~{digest}"


def cassette_path(case_file: Path, model: str) -> Path:
    """`<case dir>/cassettes/<model slug>/<file stem>.json`."""
    return case_file.parent / "cassettes" / model_slug(model) / f"{case_file.stem}.json"
