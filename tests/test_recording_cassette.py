"""The Cassette itself: exact sample slots, interactions found by their own requests,
answers stored byte for byte, honest file modes, clear errors, nothing lost."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from pytest_toolcall.cassettes import Cassette, CassetteError, cassette_path, model_slug
from pytest_toolcall.send.bodies import request_hash
from pytest_toolcall.send.redaction import Redactor
from pytest_toolcall.send.transport import Exchange

URL = "http://127.0.0.1:9/v1/chat/completions"


def body(prompt: str) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": prompt}]}).encode()


def answer(text: str) -> bytes:
    message = {"role": "assistant", "content": text}
    return json.dumps({"id": "x", "choices": [{"index": 0, "message": message}]}).encode()


def exchange(prompt: str, reply: bytes | str, *, status: int = 200, **extra) -> Exchange:
    fields = {
        "method": "POST",
        "url": URL,
        "request_headers": {"content-type": "application/json"},
        "request_body": body(prompt),
        "status": status,
        "reason": "OK",
        "response_headers": {"content-type": "application/json"},
        "response_body": reply if isinstance(reply, bytes) else answer(reply),
        "latency_ms": 12.5,
    }
    return Exchange(**(fields | extra))


def find(cassette: Cassette, prompt: str, sample: int = 0):
    return cassette.find("POST", URL, request_hash(body(prompt)), sample)


def reply_text(recording) -> str:
    return json.loads(recording.body)["choices"][0]["message"]["content"]


def recorded(tmp_path: Path, prompts: list[str]) -> Path:
    path = tmp_path / "cassettes" / "m" / "suite.json"
    cassette = Cassette(path)
    for prompt in prompts:
        cassette.put(exchange(prompt, f"answer to {prompt}"), f"case-{prompt}", 0)
    cassette.save({f"case-{p}": i for i, p in enumerate(prompts)})
    return path


def loaded(path: Path) -> Cassette:
    cassette = Cassette(path)
    cassette.load()
    return cassette


# -- item 3: exact sample slots ------------------------------------------------------


def test_samples_arriving_out_of_order_keep_their_own_slots(tmp_path):
    path = tmp_path / "c.json"
    cassette = Cassette(path)
    for sample in (2, 0, 1):
        assert cassette.put(exchange("p", f"sample {sample}"), "c0", sample)
    for sample in (0, 1, 2):
        assert reply_text(find(cassette, "p", sample)) == f"sample {sample}"
    cassette.save({"c0": 0})
    again = loaded(path)
    assert [reply_text(find(again, "p", s)) for s in (0, 1, 2)] == [
        "sample 0",
        "sample 1",
        "sample 2",
    ]
    assert [find(again, "p", s).sample for s in (0, 1, 2)] == [0, 1, 2]
    assert len(json.loads(path.read_text())["interactions"]) == 3


def test_a_gap_stays_a_gap(tmp_path):
    cassette = Cassette(tmp_path / "c.json")
    cassette.put(exchange("p", "sample 3"), "c0", 3)
    cassette.save({})
    again = loaded(tmp_path / "c.json")
    assert find(again, "p", 0) is None and reply_text(find(again, "p", 3)) == "sample 3"


def test_concurrent_puts_and_saves_lose_nothing(tmp_path):
    path = tmp_path / "c.json"
    cassette = Cassette(path)
    count = 8 * 3 * 10

    def work(thread: int) -> None:
        for index in range(thread, count, 8):
            case, sample = divmod(index, 3)
            cassette.put(exchange(f"p{case}", f"{case}/{sample}"), f"c{case}", sample)
            cassette.save({})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = loaded(path)
    for index in range(count):
        case, sample = divmod(index, 3)
        assert reply_text(find(again, f"p{case}", sample)) == f"{case}/{sample}"


def test_two_writers_of_one_file_keep_each_others_recordings(tmp_path):
    # Two runs on one checkout (or two xdist workers) recording into one cassette.
    path = tmp_path / "c.json"
    first, second = Cassette(path), Cassette(path)
    first.load()
    second.load()
    first.put(exchange("a", "from the first run"), "ca", 0)
    first.save({})
    second.put(exchange("b", "from the second run"), "cb", 0)
    second.save({})
    again = loaded(path)
    assert reply_text(find(again, "a")) == "from the first run"
    assert reply_text(find(again, "b")) == "from the second run"
    # ... but a rewrite that dropped a recording does not bring it back
    second.keep_only(set())
    second.save({})
    assert json.loads(path.read_text())["interactions"] == []


# -- item 1: answers byte for byte ---------------------------------------------------


def test_answers_are_stored_byte_for_byte_and_header_values_masked(tmp_path):
    redactor = Redactor.for_run(
        "sk-test-0123456789abcdef",
        {"X-Region": "home", "X-Debug": "1", "X-Fleet": "north-sea-fleet-alpha"},
    )
    path = tmp_path / "c.json"
    cassette = Cassette(path, redact=redactor.mask)
    raw = (
        b'{"choices":[{"message":{"content":"home_base, 1 drone of north-sea-fleet-alpha,'
        b' key sk-test-0123456789abcdef \\u00e9 \xc3\xa9"}}],  "id" : "x"}'
    )
    headers = {"x-fleet": "north-sea-fleet-alpha", "x-region": "home", "content-type": "a/b"}
    assert cassette.put(exchange("p", raw, request_headers=headers), "c0", 0)
    cassette.save({})
    data = json.loads(path.read_text())
    interaction = data["interactions"][0]
    assert interaction["response"]["body"]["string"].encode() == raw
    assert find(loaded(path), "p").body == raw
    assert interaction["request"]["headers"]["x-fleet"] == ["<redacted>"]  # a credential
    assert interaction["request"]["headers"]["x-region"] == ["home"]  # never a short value


def test_credentials_in_the_url_are_kept_out(tmp_path):
    redactor = Redactor(["sk-in-the-path-0123456789"])
    cassette = Cassette(tmp_path / "c.json", redact=redactor.mask)
    url = (
        "https://user:pass@gw.example/sk-in-the-path-0123456789/v1/chat/completions"
        "?api-version=2024-06-01&api-key=topsecret&key=alsosecret"
    )
    cassette.put(exchange("p", "hi", url=url), "c0", 0)
    cassette.save({})
    text = (tmp_path / "c.json").read_text()
    for secret in ("topsecret", "alsosecret", "user:pass", "sk-in-the-path"):
        assert secret not in text
    assert "api-version=2024-06-01" in text
    assert find(loaded(tmp_path / "c.json"), "p") is None  # the path changed: a new request


# -- item 5: only real answers -------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        b'{"choices": []}',
        b"<html>502</html>",
        b'{"error": {"message": "overloaded"}}',
        b'{"choices": [{"message": "hi"}]}',
        b'{"choices": [{"message": {"tool_calls": "x"}}]}',
        b'{"choices": [{"message": {"content": "\xff"}}]}',
    ],
)
def test_put_refuses_what_is_not_an_answer(tmp_path, reply):
    cassette = Cassette(tmp_path / "c.json")
    assert cassette.put(exchange("p", reply), "c0", 0) is False
    assert find(cassette, "p") is None and not cassette.changed


def test_put_refuses_errors_and_bodies_that_are_not_json(tmp_path):
    cassette = Cassette(tmp_path / "c.json")
    assert cassette.put(exchange("p", "hi", status=500), "c0", 0) is False
    assert cassette.put(exchange("p", "hi", request_body=b"\xff"), "c0", 0) is False
    assert cassette.put(exchange("p", "hi", request_body=b"not json"), "c0", 0) is False
    assert not cassette.changed


def old_cassette(path: Path, interactions: list[tuple[str, bytes, str]]) -> None:
    """A version-1 cassette, as earlier versions wrote it (facts matched by position)."""
    data = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "POST", "uri": URL, "body": body(p).decode(), "headers": {}},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {},
                    "body": {"string": reply.decode("utf-8", "replace")},
                },
            }
            for p, reply, _ in interactions
        ],
        "metadata": {
            "pytest_toolcall": {
                "version": 1,
                "interactions": [
                    {"case": case, "latency_ms": 5.0, "request_hash": request_hash(body(p))}
                    for p, _, case in interactions
                ],
            }
        },
    }
    path.write_text(json.dumps(data, indent=4))


def test_an_unusable_recording_is_reported_and_replaced(tmp_path):
    path = tmp_path / "c.json"
    old_cassette(path, [("p", b'{"choices": []}', "c0"), ("q", answer("fine"), "c1")])
    cassette = loaded(path)
    found = find(cassette, "p")
    assert found.problem == (
        "recorded answer for case c0 is not usable (the server's answer has no choices): "
        "re-record with --record-mode=once"
    )
    assert cassette.unusable("POST", URL, request_hash(body("p")), 0) == found.problem
    assert find(cassette, "q").problem is None and reply_text(find(cassette, "q")) == "fine"
    assert cassette.put(exchange("p", "now a real answer"), "c0", 0)
    assert find(cassette, "p").problem is None
    cassette.save({"c0": 0, "c1": 1})
    assert [reply_text(find(loaded(path), p)) for p in "pq"] == ["now a real answer", "fine"]


# -- item 2: found by its own request ------------------------------------------------


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=4))


def test_deleting_or_reordering_interactions_changes_only_their_case(tmp_path):
    prompts = ["p0", "p1", "p2", "p3"]
    path = recorded(tmp_path, prompts)
    edit(path, lambda data: data["interactions"].pop(1))
    edit(path, lambda data: data["interactions"].reverse())
    cassette = loaded(path)
    assert find(cassette, "p1") is None
    for prompt in ("p0", "p2", "p3"):
        found = find(cassette, prompt)
        assert reply_text(found) == f"answer to {prompt}"
        assert found.case_id == f"case-{prompt}" and found.latency_ms == 12.5


def test_an_old_cassette_with_an_interaction_deleted_gives_no_neighbour_answers(tmp_path):
    path = tmp_path / "c.json"
    old_cassette(path, [(p, answer(f"answer to {p}"), f"c-{p}") for p in ("p0", "p1", "p2")])
    edit(path, lambda data: data["interactions"].pop(0))  # the metadata list is unchanged
    cassette = loaded(path)
    assert find(cassette, "p0") is None
    assert reply_text(find(cassette, "p1")) == "answer to p1"
    assert reply_text(find(cassette, "p2")) == "answer to p2"
    assert find(cassette, "p2").case_id == "c-p2"


def test_a_request_body_edited_by_hand_is_reported_never_served(tmp_path):
    path = recorded(tmp_path, ["p0", "p1"])
    # A reviewer (or a bad merge) turns p0's recorded request into a request for "p9".
    edit(
        path,
        lambda data: data["interactions"][0]["request"].update(body=body("p9").decode()),
    )
    cassette = loaded(path)
    assert find(cassette, "p9") is None  # never served for the request it now claims
    assert find(cassette, "p0") is None
    reason = cassette.unusable("POST", URL, request_hash(body("p9")), 0)
    assert "changed after recording" in reason and "--record-mode=once" in reason
    assert reply_text(find(cassette, "p1")) == "answer to p1"  # the rest still loads
    # Recording p9 for real replaces it; the edited interaction is gone.
    assert cassette.put(exchange("p9", "a real answer"), "c9", 0)
    cassette.save({})
    again = loaded(path)
    assert reply_text(find(again, "p9")) == "a real answer"
    assert len(json.loads(path.read_text())["interactions"]) == 2


def test_a_stored_hash_edited_by_hand_is_never_served(tmp_path):
    path = recorded(tmp_path, ["p0", "p1"])
    other = request_hash(body("p1"))

    def point_p0_at_p1(data):
        facts = data["metadata"]["pytest_toolcall"]["interactions"]
        first = next(f for f in facts.values() if f["case"] == "case-p0")
        first["request_hash"] = other

    edit(path, point_p0_at_p1)
    cassette = loaded(path)
    assert reply_text(find(cassette, "p1")) == "answer to p1"
    assert find(cassette, "p0") is None


def test_a_cassette_written_by_vcrpy_alone_replays(tmp_path):
    path = recorded(tmp_path, ["p0", "p1"])
    edit(path, lambda data: data.pop("metadata"))
    cassette = loaded(path)
    assert reply_text(find(cassette, "p1")) == "answer to p1"
    assert find(cassette, "p1").latency_ms is None


def test_one_broken_interaction_leaves_the_others(tmp_path):
    path = recorded(tmp_path, ["p0", "p1"])
    edit(path, lambda data: data["interactions"][0]["response"].pop("body"))
    edit(path, lambda data: data["interactions"].append("junk"))
    cassette = loaded(path)
    assert reply_text(find(cassette, "p1")) == "answer to p1"
    assert find(cassette, "p0") is None


# -- item 23: file modes -------------------------------------------------------------


def test_a_re_recorded_cassette_keeps_its_mode(tmp_path):
    path = recorded(tmp_path, ["p0"])
    os.chmod(path, 0o664)
    cassette = loaded(path)
    cassette.put(exchange("p1", "x"), "c1", 0)
    cassette.save({})
    assert stat.S_IMODE(path.stat().st_mode) == 0o664


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_a_new_cassette_gets_the_umask_mode(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = recorded(tmp_path, ["p0"])
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode


# -- probes: files that cannot be read or written ------------------------------------


@pytest.mark.parametrize(
    "content, why",
    [
        (b'{"version": 1, "interactions": [', "it is not JSON"),
        (b'{"version": 2, "interactions": []}', "vcrpy cassette version 2 is not 1"),
        (b"[]", "it is not a vcrpy cassette"),
        (b'{"version": 1}', "it is not a vcrpy cassette"),
        (b'{"version": 1, "interactions": [], "x": "\xff"}', "it is not UTF-8 text"),
        (b"[" * 100_000, "it is not JSON"),
    ],
)
def test_an_unreadable_cassette_is_a_clear_error_naming_it(tmp_path, content, why):
    path = tmp_path / "c.json"
    path.write_bytes(content)
    with pytest.raises(CassetteError) as raised:
        Cassette(path).load()
    message = str(raised.value)
    assert str(path) in message and why in message and "--record-mode=once" in message
    assert "\n" not in message


def test_a_folder_in_place_of_the_file_is_a_clear_error(tmp_path):
    (tmp_path / "c.json").mkdir()
    with pytest.raises(CassetteError, match="cannot read cassette .*c.json"):
        Cassette(tmp_path / "c.json").load()


def test_an_unwritable_place_is_said_before_sending_and_on_save(tmp_path):
    (tmp_path / "cassettes").write_text("a file where the folder should be")
    path = tmp_path / "cassettes" / "m" / "suite.json"
    cassette = Cassette(path)
    cassette.load()
    assert str(path) in cassette.writable()
    cassette.put(exchange("p", "x"), "c0", 0)
    with pytest.raises(CassetteError, match=r"cannot write cassette .*suite\.json"):
        cassette.save({})


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_a_clear_error_and_the_file_is_unchanged(tmp_path):
    path = recorded(tmp_path, ["p0"])
    before = path.read_bytes()
    cassette = loaded(path)
    cassette.put(exchange("p1", "x"), "c1", 0)
    os.chmod(path.parent, 0o555)
    try:
        assert "Permission denied" in cassette.writable()
        with pytest.raises(CassetteError, match="unchanged"):
            cassette.save({})
    finally:
        os.chmod(path.parent, 0o755)
    assert path.read_bytes() == before


def test_temp_files_of_a_killed_save_are_never_read_and_cleaned_up(tmp_path):
    path = recorded(tmp_path, ["p0"])
    stale = path.parent / f".{path.name}.0123456789ab.tmp"
    stale.write_text('{"version": 1, "interactions": [')  # half a file
    cassette = loaded(path)
    assert reply_text(find(cassette, "p0")) == "answer to p0"
    cassette.put(exchange("p1", "x"), "c1", 0)
    cassette.save({})
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_huge_and_non_ascii_answers_round_trip(tmp_path):
    path = tmp_path / "c.json"
    cassette = Cassette(path)
    big = "é🚁" * 300_000 + "\u2028"
    assert cassette.put(exchange("p", big), "c0", 0)
    cassette.save({})
    assert reply_text(find(loaded(path), "p")) == big


# -- probes: model slugs -------------------------------------------------------------


def test_model_slugs_are_distinct_for_distinct_models():
    models = [
        "a:b",
        "a_b",
        "a/b",
        "GPT-4o",
        "gpt-4o",
        "ft:gpt-4o:acme::x",
        "ft_gpt-4o_acme__x",
        ".",
        "..",
        "_",
        "a~b",
        "x" * 300,
        "x" * 301,
        "",
    ]
    slugs = [model_slug(model) for model in models]
    assert len({slug.lower() for slug in slugs}) == len(models)  # even ignoring case
    for slug in slugs:
        assert "/" not in slug and "\\" not in slug and slug not in ("", ".", "..")
        assert len(slug) < 100


def test_common_model_ids_keep_readable_slugs():
    for model in ("gpt-4o-mini", "o3", "qwen2.5-coder-1.5b-instruct-q4_k_m", "gpt-4.1"):
        assert model_slug(model) == model
    assert model_slug("ft:gpt-4o:acme::x").startswith("ft_gpt-4o_acme__x~")
    drone = Path("cases/drone/straightforward.yaml")
    assert cassette_path(drone, "qwen2.5-coder-1.5b-instruct-q4_k_m") == Path(
        "cases/drone/cassettes/qwen2.5-coder-1.5b-instruct-q4_k_m/straightforward.json"
    )
