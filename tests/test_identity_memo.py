"""Memoising by identity: once per object, never an answer for another object."""

from __future__ import annotations

from pytest_toolcall.identity_memo import by_identity, by_identity_pair


def test_once_per_object_and_per_value_of_the_rest():
    calls = []

    @by_identity
    def size(schema, extra=0):
        calls.append(schema)
        return len(schema) + extra

    schema, equal_copy = {"type": "object"}, {"type": "object"}
    assert size(schema) == size(schema) == 1
    assert size(equal_copy) == 1 and size(schema, 1) == 2
    assert calls == [schema, equal_copy, schema]


def test_a_reused_id_is_never_served_another_objects_answer():
    @by_identity_pair
    def pair(a, b):
        return (a["n"], b["n"])

    first = pair({"n": 1}, {"n": 2})  # (the entry holds them: their ids stay taken)
    assert first == (1, 2)
    for n in range(200):  # new objects, some at addresses of freed ones
        assert pair({"n": n}, {"n": -n}) == (n, -n)
