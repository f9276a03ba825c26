"""One cassette: the recordings of one case file x model, found by their own requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pytest_toolcall.cassettes import layout, storage
from pytest_toolcall.cassettes.layout import (
    METADATA_KEY,
    METADATA_VERSION,
    VCR_CASSETTE_VERSION,
    Key,
    Recording,
    Rejected,
    Slots,
    check,
    parse,
    request_digest,
    response_digest,
)
from pytest_toolcall.cassettes.storage import CassetteError
from pytest_toolcall.send.answers import parse_completion
from pytest_toolcall.send.bodies import request_hash
from pytest_toolcall.send.redaction import MASK
from pytest_toolcall.send.transport import Exchange

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
# Query parameters that carry credentials (Azure's `api-key`, a gateway's `?key=`).
SECRET_QUERY_NAMES = frozenset(
    {"api-key", "api_key", "apikey", "key", "access_token", "token", "code", "sig", "signature"}
)


class Cassette:
    """The recordings of one case file x model, indexed by (method, path, body hash, sample).

    Each interaction is found by its own request: facts about it (its request's hash, case,
    sample, latency) are stored in the metadata under the digest of its recorded request
    body, never by position. Moving or deleting an interaction by hand changes only its
    own case; an interaction whose body no longer matches its stored hash is never served
    (`unusable()` says why). Cassettes without our metadata (written by vcrpy) are read by
    hashing each recorded body.
    """

    def __init__(
        self,
        path: Any,
        extra_scrubbed_headers: Iterable[str] = (),
        redact: Callable[[str], str] = str,
    ) -> None:
        """`redact` masks credentials in header values and the URL (never in a body)."""
        self.path = path
        self.scrubbed = SCRUBBED_HEADERS | {name.lower() for name in extra_scrubbed_headers}
        self.redact = redact
        self.changed = False
        self._slots: Slots = {}
        self._rejected: Rejected = []
        self._dropped: set[tuple[Key, int]] = set()
        self._disk: tuple[int, int, int] | None = None
        self._lock = threading.RLock()

    key = staticmethod(layout.key)

    # -- reading -------------------------------------------------------------------

    def load(self) -> None:
        """Read the file if it exists (a missing file is an empty cassette).

        Raises `CassetteError` naming the file when it cannot be read at all; a single
        unusable interaction only affects its own case.
        """
        with self._lock, storage.locked(self.path):
            self._disk = storage.signature(self.path)
            text = storage.read_text(self.path)
        if text is None:
            return
        slots, rejected = parse(text, self.path)
        with self._lock:
            self._slots, self._rejected = slots, rejected

    def find(self, method: str, url: str, body_hash: str, sample: int) -> Recording | None:
        """The recording of `sample` for this request, if there is one.

        A recording whose answer is not usable is returned too (its `problem` says so):
        `none` reports it, `once` and `new_episodes` ask again and `put` replaces it.
        """
        return self._slots.get(self.key(method, url, body_hash), {}).get(sample)

    def unusable(self, method: str, url: str, body_hash: str, sample: int) -> str | None:
        """Why this request's `sample` cannot be replayed from what the file holds, if it
        holds something for it: an answer that is not usable, or an interaction edited
        after recording. None when it replays, or when nothing was recorded."""
        key = self.key(method, url, body_hash)
        found = self._slots.get(key, {}).get(sample)
        if found is not None:
            return found.problem
        for rejected_key, _, reason in self._rejected:
            if rejected_key == key:
                return reason
        return None

    # -- recording -----------------------------------------------------------------

    def writable(self) -> str | None:
        """Why this cassette cannot be saved, or None. Ask before sending paid requests."""
        return storage.writable(self.path)

    def put(self, exchange: Exchange, case_id: str, sample: int) -> bool:
        """Record a finished exchange as exactly the `sample`-th answer to its request.

        Only real answers are kept: not a 429 or 5xx, and not a 2xx whose body is not a
        usable answer (`parse_completion` says why); False when nothing was stored. The
        body is stored byte for byte; header values and the URL go through `redact`.
        """
        if not 200 <= exchange.status < 300:
            return False
        if parse_completion(exchange.response_body, latency_ms=None).error is not None:
            return False
        try:
            request_body = bytes(exchange.request_body).decode("utf-8")
            body_hash = request_hash(request_body)
            response_body = bytes(exchange.response_body).decode("utf-8")
        except (ValueError, TypeError, RecursionError):
            return False
        request = {
            "method": exchange.method.upper(),
            "uri": self._scrub_url(exchange.url),
            "body": request_body,
            "headers": {k: [v] for k, v in self._scrub(exchange.request_headers).items()},
        }
        response = {
            "status": {"code": exchange.status, "message": exchange.reason},
            "headers": {k: [v] for k, v in self._scrub(exchange.response_headers).items()},
            "body": {"string": response_body},
        }
        key = self.key(exchange.method, exchange.url, body_hash)
        recording = Recording(request, response, case_id, exchange.latency_ms, body_hash, sample)
        with self._lock:
            self._slots.setdefault(key, {})[sample] = recording
            self._dropped.discard((key, sample))
            self._rejected = [r for r in self._rejected if r[0] != key]
            self.changed = True
        return True

    def keep_only(self, used: set[tuple[Key, int]]) -> int:
        """Drop every recording not in `used` ((key, sample) pairs); return how many went."""
        dropped = len(self._rejected)
        with self._lock:
            self._rejected = []
            for key in list(self._slots):
                for sample in list(self._slots[key]):
                    if (key, sample) not in used:
                        del self._slots[key][sample]
                        self._dropped.add((key, sample))
                        dropped += 1
                if not self._slots[key]:
                    del self._slots[key]
            self.changed = self.changed or dropped > 0
        return dropped

    def save(self, case_order: Mapping[str, int]) -> None:
        """Write the file atomically, interactions in case order for stable diffs.

        Serialised per file; what another process saved to the file since we read it is
        kept (its recordings of requests this run did not record or drop). Raises
        `CassetteError` naming the file when it cannot be written (the file is unchanged).
        """
        with self._lock, storage.locked(self.path):
            if storage.signature(self.path) != self._disk:
                self._merge_from_disk()
            text = self._serialize(case_order)
            storage.write(self.path, text)
            self._disk = storage.signature(self.path)
            self.changed = False

    # -- internals -----------------------------------------------------------------

    def _merge_from_disk(self) -> None:
        text = storage.read_text(self.path)
        if text is None:
            return
        try:
            slots, _ = parse(text, self.path)
        except CassetteError:
            return  # what is on disk is unreadable: ours replaces it
        for key, samples in slots.items():
            for sample, recording in samples.items():
                mine = self._slots.setdefault(key, {})
                if sample not in mine and (key, sample) not in self._dropped:
                    mine[sample] = recording

    def _serialize(self, case_order: Mapping[str, int]) -> str:
        last = len(case_order)
        ordered = sorted(
            (recording for samples in self._slots.values() for recording in samples.values()),
            key=lambda r: (case_order.get(r.case_id, last), r.case_id, r.request_hash, r.sample),
        )
        facts: dict[str, dict[str, Any]] = {}
        for recording in ordered:
            digest = request_digest(recording.request)
            fact = facts.setdefault(
                digest,
                {
                    "case": recording.case_id,
                    "request_hash": recording.request_hash,
                    "check": check(digest, recording.request_hash),
                    "samples": {},
                },
            )
            fact["samples"][str(recording.sample)] = {
                "latency_ms": recording.latency_ms,
                "response": response_digest(recording.response),
            }
        interactions = [{"request": dict(r.request), "response": dict(r.response)} for r in ordered]
        interactions += [interaction for _, interaction, _ in self._rejected]
        data = {
            "version": VCR_CASSETTE_VERSION,
            "interactions": interactions,
            "metadata": {METADATA_KEY: {"version": METADATA_VERSION, "interactions": facts}},
        }
        return json.dumps(data, indent=4) + "\n"  # as vcrpy's JSON serializer writes

    def _scrub(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: self.redact(value)
            for name, value in headers.items()
            if name.lower() not in self.scrubbed
            and name.lower() not in WIRE_HEADERS
            and not name.lower().startswith(SCRUBBED_HEADER_PREFIXES)
        }

    def _scrub_url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.query:
            query = [
                (name, MASK if name.lower() in SECRET_QUERY_NAMES else value)
                for name, value in parse_qsl(parts.query, keep_blank_values=True)
            ]
            parts = parts._replace(query=urlencode(query, safe="<>"))
        if "@" in parts.netloc:  # user:password@host
            parts = parts._replace(netloc=f"{MASK}@{parts.netloc.rsplit('@', 1)[1]}")
        return self.redact(urlunsplit(parts))
