"""Python's cyclic garbage collector paused while a block builds a large tree.

Parsing a big case file or cassette makes a million small objects that all live on
(libyaml's nodes and marks, dicts, strings) and no garbage cycles. Each allocation burst
triggers collections that walk the whole growing heap: half of loading 6 MB of YAML. The
pause is local: the collector's state is put back as it was when the block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No automatic collection inside the block (reference counting still frees)."""
    if not gc.isenabled():  # the caller's choice, left alone
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
