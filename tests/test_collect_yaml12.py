"""The YAML 1.2 core schema for plain scalars, row by row (spec 1.2.2, 10.3.2 Tag Resolution)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pytest_toolcall.collect import yaml12
from pytest_toolcall.collect.yaml12 import YamlError, load_yaml

# (plain scalar, value it resolves to); one block per row of the spec's table.
CORE_SCHEMA_ROWS: list[tuple[str, Any]] = [
    # null | Null | NULL | ~  and the empty scalar -> null
    ("null", None),
    ("Null", None),
    ("NULL", None),
    ("~", None),
    ("", None),
    # true | True | TRUE | false | False | FALSE -> bool
    ("true", True),
    ("True", True),
    ("TRUE", True),
    ("false", False),
    ("False", False),
    ("FALSE", False),
    # [-+]? [0-9]+ -> int (base 10)
    ("0", 0),
    ("12", 12),
    ("+12", 12),
    ("-19", -19),
    ("010", 10),
    ("007", 7),
    # 0o [0-7]+ -> int (base 8)
    ("0o17", 15),
    ("0o7", 7),
    # 0x [0-9a-fA-F]+ -> int (base 16)
    ("0x1F", 31),
    ("0x3A", 58),
    ("0xff", 255),
    # [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? -> float
    ("1e3", 1000.0),
    ("0.", 0.0),
    ("-0.0", -0.0),
    (".5", 0.5),
    ("+12e03", 12000.0),
    ("-2E+05", -200000.0),
    ("1.5", 1.5),
    ("3.", 3.0),
    # [-+]? ( \.inf | \.Inf | \.INF ) -> float (infinity)
    (".inf", math.inf),
    (".Inf", math.inf),
    ("+.INF", math.inf),
    ("-.inf", -math.inf),
    ("-.Inf", -math.inf),
    # \.nan | \.NaN | \.NAN -> float (not a number): checked apart, nan != nan
    # * -> str: everything else, including YAML 1.1's other forms
    ("12:30", "12:30"),
    ("190:20:30", "190:20:30"),
    ("2024-05-01", "2024-05-01"),
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    ("yes", "yes"),
    ("no", "no"),
    ("on", "on"),
    ("off", "off"),
    ("y", "y"),
    ("n", "n"),
    ("Yes", "Yes"),
    ("OFF", "OFF"),
    ("tRUE", "tRUE"),
    ("nULL", "nULL"),
    ("none", "none"),
    ("1_000", "1_000"),
    ("0b101", "0b101"),
    ("0o8", "0o8"),
    ("0xG", "0xG"),
    ("+0x1F", "+0x1F"),
    ("-0o7", "-0o7"),
    ("inf", "inf"),
    ("nan", "nan"),
    ("+.nan", "+.nan"),
    (".", "."),
    ("+", "+"),
    ("1e", "1e"),
    ("e3", "e3"),
    ("=", "="),
    ("home_base", "home_base"),
]


@pytest.mark.parametrize(("text", "value"), CORE_SCHEMA_ROWS)
def test_plain_scalar_resolves_as_the_core_schema_says(text: str, value: Any):
    loaded = load_yaml(f"key: {text}\n")["key"]
    assert loaded == value
    assert type(loaded) is type(value)
    if isinstance(value, float) and value == 0:
        assert math.copysign(1, loaded) == math.copysign(1, value)


@pytest.mark.parametrize("text", [".nan", ".NaN", ".NAN"])
def test_nan_rows(text: str):
    loaded = load_yaml(f"key: {text}\n")["key"]
    assert isinstance(loaded, float) and math.isnan(loaded)


@pytest.mark.parametrize("text", ["'12:30'", '"1e3"', "'true'", "'null'", "'010'", "''"])
def test_quoted_scalars_stay_strings(text: str):
    assert load_yaml(f"key: {text}\n")["key"] == text[1:-1]


def test_sequences_flow_mappings_and_keys_resolve_the_same():
    document = load_yaml("at: [12:30, 0x1F, ~]\nflow: {t: 2024-05-01, n: 1e3}\n010: x\n")
    flow = {"t": "2024-05-01", "n": 1000.0}
    assert document == {"at": ["12:30", 31, None], "flow": flow, 10: "x"}


def test_json_numbers_load_as_json_does():
    assert load_yaml('{"a": 1.5e-3, "b": -0, "c": 1E+2, "d": 10}') == {
        "a": 0.0015,
        "b": 0,
        "c": 100.0,
        "d": 10,
    }


def test_line_numbers_and_duplicate_keys_are_kept():
    document = load_yaml("a: 1\nb:\n  c: 12:30\n")
    assert document.line == 1 and document.key_lines == {"a": 1, "b": 2}
    assert document["b"].line == 3 and document["b"].key_lines == {"c": 3}
    with pytest.raises(YamlError) as excinfo:
        load_yaml("a: 1\na: 2\n")
    assert excinfo.value.line == 2 and "duplicate key 'a'" in excinfo.value.problem


def test_explicit_tags_still_work():
    assert load_yaml("a: !!str 10\nb: !!float 1\nc: !!int '7'\n") == {"a": "10", "b": 1.0, "c": 7}


def test_libyaml_is_used_when_present():
    import yaml

    if hasattr(yaml, "CSafeLoader"):
        assert issubclass(yaml12.Yaml12Loader, yaml.CSafeLoader)
