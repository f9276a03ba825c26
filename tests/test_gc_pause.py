"""The collector pause that parsing uses puts the collector back as it was."""

from __future__ import annotations

import gc

import pytest

from pytest_toolcall.cassettes.layout import parse
from pytest_toolcall.collect.yaml12 import YamlError, load_yaml
from pytest_toolcall.gc_pause import gc_paused


@pytest.fixture
def collector_state():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_collection_is_off_inside_and_back_on_after(collector_state):
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_the_user_turned_off_stays_off(collector_state):
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()
    load_yaml("a: 1")
    assert not gc.isenabled()


def test_parsing_yaml_and_cassettes_leaves_the_collector_on(collector_state):
    gc.enable()
    assert load_yaml("a: [1, 2]") == {"a": [1, 2]}
    with pytest.raises(YamlError):
        load_yaml("a: [")
    assert parse('{"version": 1, "interactions": []}', "c.json") == ({}, [])
    assert gc.isenabled()
