"""The file format: vcrpy's JSON cassette, with our facts in its metadata.

Facts (request hash, case, sample, latency) are filed under the digest of each
interaction's own recorded request (method, path, body text), with a check that ties the
stored hash to that digest: an edited body or an edited hash no longer matches, and that
interaction is never served. Version 1 metadata (a list matched by position, written by
earlier versions) is used only where an interaction's own body has the hash a fact names.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from pytest_toolcall.cassettes.storage import CassetteError
from pytest_toolcall.gc_pause import gc_paused
from pytest_toolcall.send.answers import Answer, parse_completion
from pytest_toolcall.send.bodies import request_hash

METADATA_KEY = "pytest_toolcall"
METADATA_VERSION = 2
VCR_CASSETTE_VERSION = 1
RE_RECORD = "re-record with --record-mode=once"
Key = tuple[str, str, str]  # method, URL path, request hash
Slots = dict[Key, dict[int, "Recording"]]
Rejected = list[tuple[Key | None, dict[str, Any], str]]


def key(method: str, url: str, body_hash: str) -> Key:
    return method.upper(), url_path(url), body_hash


@functools.lru_cache(maxsize=64)
def url_path(url: str) -> str:
    """The path of a URL (a cassette names the same few URLs thousands of times)."""
    return urlsplit(url).path


@dataclass(frozen=True)
class Recording:
    """One recorded interaction in vcrpy's dict form, plus our facts about it."""

    request: Mapping[str, Any]  # method, uri, body (text), headers ({name: [value]})
    response: Mapping[str, Any]  # status, headers, body ({"string": text})
    case_id: str
    latency_ms: float | None
    request_hash: str
    sample: int = 0

    @property
    def body(self) -> bytes:
        body = self.response["body"]["string"]
        return body if isinstance(body, bytes) else body.encode("utf-8")

    @cached_property
    def answer(self) -> Answer:
        """The recorded answer, parsed once (an `error` when it is not usable)."""
        return parse_completion(self.response["body"]["string"], latency_ms=self.latency_ms)

    @property
    def problem(self) -> str | None:
        """Why this recording cannot be served, or None."""
        if self.answer.error is None:
            return None
        case = f"case {self.case_id}" if self.case_id else "this case"
        return f"recorded answer for {case} is not usable ({self.answer.error}): {RE_RECORD}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def request_digest(request: Mapping[str, Any]) -> str:
    """The digest of a recorded request exactly as stored: what its facts are filed under."""
    path = url_path(request["uri"])
    return _sha(f"{request['method'].upper()} {path}\n{request['body']}")[:32]


def check(digest: str, body_hash: str) -> str:
    """Ties a stored hash to its request: a hash edited by hand no longer matches."""
    return _sha(f"{digest}:{body_hash}")[:16]


def response_digest(response: Mapping[str, Any]) -> str:
    return _sha(str(response["body"]["string"]))[:16]


@gc_paused()
def parse(text: str, path: Any) -> tuple[Slots, Rejected]:
    """A cassette's text -> its servable recordings by slot, and the interactions that
    cannot be served (with the key they would answer, when known, and why)."""

    def broken(why: str) -> CassetteError:
        return CassetteError(
            f"cannot read cassette {path}: {why}; fix it, or delete it and record again "
            "with --record-mode=once"
        )

    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise broken(f"it is not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise broken("it is not a vcrpy cassette (no 'interactions' list)")
    if data.get("version") != VCR_CASSETTE_VERSION:
        raise broken(f"vcrpy cassette version {data.get('version')!r} is not 1")
    metadata = data.get("metadata")
    ours = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    ours = ours if isinstance(ours, dict) else {}
    facts = ours.get("interactions")
    v2 = ours.get("version") == METADATA_VERSION and isinstance(facts, dict)
    by_hash = _old_facts(facts) if ours.get("version") == 1 else {}

    slots: Slots = {}
    rejected: Rejected = []
    unverified: list[tuple[dict[str, Any], Mapping[str, Any], Mapping[str, Any]]] = []
    for interaction in data["interactions"]:
        shape = _shape_problem(interaction)
        if shape is not None:
            rejected.append((None, interaction, f"a recorded interaction {shape}: {RE_RECORD}"))
            continue
        request, response = interaction["request"], interaction["response"]
        digest = request_digest(request) if v2 else ""
        fact = facts.get(digest) if v2 else None
        if isinstance(fact, dict) and _place(slots, request, response, fact, digest):
            continue
        unverified.append((interaction, request, response))

    for interaction, request, response in unverified:
        try:
            body_hash = request_hash(request["body"])
        except (ValueError, TypeError, AttributeError, RecursionError):
            rejected.append((None, interaction, f"a recorded request is not JSON: {RE_RECORD}"))
            continue
        slot_key = key(request["method"], request["uri"], body_hash)
        if v2:
            # Ours, yet no fact vouches for its body: edited by hand after recording.
            reason = (
                "the recorded request for this case was changed after recording (its body "
                f"does not match the hash stored with it), so it is never replayed: {RE_RECORD}"
            )
            rejected.append((slot_key, interaction, reason))
            continue
        samples = slots.setdefault(slot_key, {})
        sample = len(samples)
        old = by_hash.get(body_hash, [])
        fact = old[sample] if sample < len(old) else {}
        samples[sample] = Recording(
            request,
            response,
            str(fact.get("case") or ""),
            _latency(fact.get("latency_ms")),
            body_hash,
            sample,
        )
    return slots, rejected


def _place(
    slots: Slots,
    request: Mapping[str, Any],
    response: Mapping[str, Any],
    fact: Mapping[str, Any],
    digest: str,
) -> bool:
    """File an interaction (whose request has `digest`) under the sample its fact names;
    False if the fact does not vouch for it (hash edited by hand, or every sample it names
    is taken)."""
    body_hash = fact.get("request_hash")
    samples = fact.get("samples")
    if not isinstance(body_hash, str) or fact.get("check") != check(digest, body_hash):
        return False
    if not isinstance(samples, dict):
        return False
    taken = slots.setdefault(key(request["method"], request["uri"], body_hash), {})
    free = [
        (int(name), about)
        for name, about in samples.items()
        if name.isdigit() and int(name) not in taken and isinstance(about, dict)
    ]
    if not free:
        return False
    # The sample whose recorded answer this is; else (an answer edited by hand) the first.
    recorded = response_digest(response)
    sample, about = next(((s, a) for s, a in free if a.get("response") == recorded), free[0])
    taken[sample] = Recording(
        request,
        response,
        str(fact.get("case") or ""),
        _latency(about.get("latency_ms")),
        body_hash,
        sample,
    )
    return True


def _old_facts(facts: Any) -> dict[str, list[Mapping[str, Any]]]:
    """Version 1 metadata (a list matched by position) -> facts by request hash, in order:
    a fact is used only for an interaction whose own body has its hash."""
    by_hash: dict[str, list[Mapping[str, Any]]] = {}
    for fact in facts if isinstance(facts, list) else ():
        if isinstance(fact, dict) and isinstance(fact.get("request_hash"), str):
            by_hash.setdefault(fact["request_hash"], []).append(fact)
    return by_hash


def _shape_problem(interaction: Any) -> str | None:
    if not isinstance(interaction, dict):
        return "is not an object"
    request, response = interaction.get("request"), interaction.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        return "has no request or response"
    if not isinstance(request.get("method"), str) or not isinstance(request.get("uri"), str):
        return "has no method or uri"
    if not isinstance(request.get("body"), str):
        return "has a request body that is not text"
    body = response.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("string"), str):
        return "has a response body that is not text"
    return None


def _latency(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
