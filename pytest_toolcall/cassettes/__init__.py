"""Cassettes: every model answer recorded next to the cases, replayed offline.

Files are vcrpy cassettes (JSON serializer, decoded bodies), one per case file x model,
that plain `vcr.use_cassette(path, record_mode="none")` replays for an openai SDK call
(vcrpy >= 8.2 patches httpx2, the SDK's transport). The plugin reads and writes them
itself anyway, for two reasons: speed, as a lookup by request-body hash is O(1) where
vcrpy's body matcher compares each request with every recording, and no patching of a
transport shared by the whole process (and by the user's own tests and their vcrpy).

Our facts about each interaction (its request's hash, case, sample, latency measured
while recording) travel in the cassette's `metadata`, filed under the digest of that
interaction's own recorded request, never by position.
"""

from __future__ import annotations

from pytest_toolcall.cassettes.cassette import SCRUBBED_HEADER_PREFIXES, SCRUBBED_HEADERS, Cassette
from pytest_toolcall.cassettes.layout import METADATA_KEY, Recording
from pytest_toolcall.cassettes.paths import cassette_path, model_slug
from pytest_toolcall.cassettes.storage import CassetteError

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")

__all__ = [
    "METADATA_KEY",
    "RECORD_MODES",
    "SCRUBBED_HEADERS",
    "SCRUBBED_HEADER_PREFIXES",
    "Cassette",
    "CassetteError",
    "Recording",
    "cassette_path",
    "model_slug",
]
