"""The request fingerprint that cassettes are matched on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pytest_toolcall.send.bodies import canonical_json, request_hash

TOOLS = json.loads((Path(__file__).parent / "data" / "drone_tools.json").read_text())
BODY = {
    "model": "ft:gpt-4o-mini:acme::abc",
    "messages": [{"role": "user", "content": "Atterris à la base, s'il te plaît"}],
    "tools": TOOLS,
    "tool_choice": "required",
    "temperature": 0,
    "seed": 42,
}


def plain_hash(body: dict) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def test_hash_is_sha256_of_sorted_compact_json_whatever_the_form():
    expected = plain_hash(BODY)
    reordered = dict(reversed(list(BODY.items())))
    assert request_hash(BODY) == expected
    assert request_hash(reordered) == expected
    assert request_hash(json.dumps(BODY, indent=2)) == expected  # bytes or text as sent
    assert request_hash(json.dumps(BODY).encode()) == expected
    assert request_hash(BODY, known={"tools": canonical_json(TOOLS)}) == expected
    odd = {**BODY, "messages": [{"role": "user", "content": '\x00"tools":\x00 \\u0000'}]}
    assert request_hash(odd, known={"tools": canonical_json(TOOLS)}) == plain_hash(odd)


def test_any_change_to_prompt_tools_params_or_model_changes_the_hash():
    base = request_hash(BODY)
    changed_tools = json.loads(json.dumps(TOOLS))
    changed_tools[0]["function"]["parameters"]["properties"]["altitude"]["type"] = "number"
    variants = [
        {**BODY, "model": "gpt-4o-mini"},
        {**BODY, "messages": [{"role": "user", "content": "Land at the base"}]},
        {**BODY, "tools": changed_tools},
        {**BODY, "temperature": 0.2},
        {**BODY, "max_tokens": 500},
    ]
    hashes = {request_hash(variant) for variant in variants}
    assert base not in hashes and len(hashes) == len(variants)
