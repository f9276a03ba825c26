"""Cassettes: every model answer recorded next to the cases, replayed offline.

Files are vcrpy cassettes (JSON serializer, decoded bodies, loadable by vcrpy and
pytest-recording), one per case file x model. The plugin reads and writes them itself
instead of letting vcrpy patch the HTTP library: recent `openai` releases send through a
client vcrpy cannot patch, and a lookup by body hash is O(1) where vcrpy's body matcher
compares every request with every recording. Our own per-interaction facts (case id,
latency measured while recording) travel in the cassette's `metadata`, which vcrpy keeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_toolcall.send.bodies import request_hash
from pytest_toolcall.send.transport import Exchange

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
SCRUBBED_HEADERS = frozenset(
    {
        "authorization",
        "api-key",
        "openai-organization",
        "openai-project",
        "cookie",
        "set-cookie",
        "user-agent",
    }
)
SCRUBBED_HEADER_PREFIXES = ("x-stainless-",)
# Headers that describe the wire encoding, not the (decoded) body we store.
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
METADATA_KEY = "pytest_toolcall"
METADATA_VERSION = 1
VCR_CASSETTE_VERSION = 1


class CassetteError(Exception):
    """A cassette file that cannot be read."""


def model_slug(model: str) -> str:
    """A model id made safe as one path component (`ft:gpt-4o:acme::x` -> `ft_gpt-4o_acme__x`)."""
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", model).strip(".")
    return slug or "_"


def cassette_path(case_file: Path, model: str) -> Path:
    """`<case dir>/cassettes/<model slug>/<file stem>.json`."""
    return case_file.parent / "cassettes" / model_slug(model) / f"{case_file.stem}.json"


@dataclass(frozen=True)
class Recording:
    """One recorded interaction in vcrpy's dict form, plus our facts about it."""

    request: Mapping[str, Any]  # vcrpy's Request._to_dict(): method, uri, body, headers
    response: Mapping[str, Any]
    case_id: str
    latency_ms: float | None
    request_hash: str

    @property
    def body(self) -> bytes:
        body = self.response["body"]["string"]
        return body if isinstance(body, bytes) else body.encode("utf-8")


class Cassette:
    """The recordings of one case file x model, indexed by request (method, path, body hash)."""

    def __init__(
        self,
        path: Path,
        extra_scrubbed_headers: Iterable[str] = (),
        redact: Callable[[str], str] = str,
    ) -> None:
        self.path = path
        self.scrubbed = SCRUBBED_HEADERS | {name.lower() for name in extra_scrubbed_headers}
        self.redact = redact
        self._recordings: dict[tuple[str, str, str], list[Recording]] = {}
        self.changed = False

    @staticmethod
    def key(method: str, url: str, body_hash: str) -> tuple[str, str, str]:
        return method.upper(), urlsplit(url).path, body_hash

    def load(self) -> None:
        """Read the file if it exists (a missing file is an empty cassette).

        Read as plain JSON, without vcrpy: replay must stay near pytest's own speed. The
        request hash recorded with each interaction is used when present, so replay does not
        re-serialise every recorded body; cassettes from elsewhere are hashed here.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        try:
            data = json.loads(text)
            if data.get("version") != VCR_CASSETTE_VERSION:
                raise ValueError(f"vcrpy cassette version {data.get('version')!r} is not 1")
            facts = data.get("metadata", {}).get(METADATA_KEY, {}).get("interactions", [])
            for index, interaction in enumerate(data["interactions"]):
                request, response = interaction["request"], interaction["response"]
                fact = facts[index] if index < len(facts) else {}
                body_hash = fact.get("request_hash") or request_hash(request["body"])
                key = self.key(request["method"], request["uri"], body_hash)
                self._recordings.setdefault(key, []).append(
                    Recording(
                        request, response, fact.get("case", ""), fact.get("latency_ms"), body_hash
                    )
                )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CassetteError(
                f"cannot read cassette {self.path}: {exc}; fix it, or delete it and record "
                "again with --record-mode=once"
            ) from None

    def find(self, method: str, url: str, body_hash: str, sample: int) -> Recording | None:
        """The `sample`-th recording of this request, if there is one."""
        recordings = self._recordings.get(self.key(method, url, body_hash), [])
        return recordings[sample] if sample < len(recordings) else None

    def put(self, exchange: Exchange, case_id: str, sample: int) -> bool:
        """Record a finished exchange as the `sample`-th answer to its request.

        Only successful answers are kept: a 429 or 5xx is not what the model said.
        """
        if not 200 <= exchange.status < 300:
            return False
        from vcr.request import Request

        request = Request(
            exchange.method,
            exchange.url,
            exchange.request_body.decode("utf-8"),
            self._scrub(exchange.request_headers),
        )._to_dict()
        response = {
            "status": {"code": exchange.status, "message": exchange.reason},
            "headers": {
                name: [value] for name, value in self._scrub(exchange.response_headers).items()
            },
            "body": {"string": self.redact(exchange.response_body.decode("utf-8", "replace"))},
        }
        body_hash = request_hash(exchange.request_body)
        slots = self._recordings.setdefault(self.key(exchange.method, exchange.url, body_hash), [])
        recording = Recording(request, response, case_id, exchange.latency_ms, body_hash)
        if sample < len(slots):
            slots[sample] = recording
        else:
            slots.append(recording)
        self.changed = True
        return True

    def keep_only(self, used: set[tuple[tuple[str, str, str], int]]) -> int:
        """Drop every recording not in `used` ((key, sample) pairs); return how many went."""
        dropped = 0
        for key in list(self._recordings):
            kept = [r for i, r in enumerate(self._recordings[key]) if (key, i) in used]
            dropped += len(self._recordings[key]) - len(kept)
            if kept:
                self._recordings[key] = kept
            else:
                del self._recordings[key]
        self.changed = self.changed or dropped > 0
        return dropped

    def _scrub(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: self.redact(value)
            for name, value in headers.items()
            if name.lower() not in self.scrubbed
            and name.lower() not in WIRE_HEADERS
            and not name.lower().startswith(SCRUBBED_HEADER_PREFIXES)
        }

    def save(self, case_order: Mapping[str, int]) -> None:
        """Write atomically (temp file + rename), interactions in case order for stable diffs."""
        from vcr.request import Request
        from vcr.serialize import serialize
        from vcr.serializers import jsonserializer

        recordings = sorted(
            (
                (case_order.get(r.case_id, len(case_order)), sample, r)
                for slots in self._recordings.values()
                for sample, r in enumerate(slots)
            ),
            key=lambda item: (item[0], item[1]),
        )
        ordered = [r for _, _, r in recordings]
        text = serialize(
            {
                "requests": [Request._from_dict(dict(r.request)) for r in ordered],
                "responses": [dict(r.response) for r in ordered],
                "metadata": {
                    METADATA_KEY: {
                        "version": METADATA_VERSION,
                        "interactions": [
                            {
                                "case": r.case_id,
                                "latency_ms": r.latency_ms,
                                "request_hash": r.request_hash,
                            }
                            for r in ordered
                        ],
                    }
                },
            },
            jsonserializer,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        self.changed = False
