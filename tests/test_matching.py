"""Unit tests of pytest_toolcall.judge.matching: expected vs actual calls -> Verdict."""

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_toolcall.collect.expectations import expectation_problems
from pytest_toolcall.judge.matching import Outcome, ToolCall, Verdict, judge

DRONE_TOOLS_FILE = Path(__file__).parent / "data" / "drone_tools.json"
DRONE_TOOLS = {
    tool["function"]["name"]: tool["function"]["parameters"]
    for tool in json.loads(DRONE_TOOLS_FILE.read_text())
}
# One parameter `value` of any type, `other` optional: for operator and literal rules.
PROBE_TOOLS = {"probe": {"type": "object", "properties": {"value": {}, "other": {}}}}


def call(name: str, **args: Any) -> ToolCall:
    return ToolCall(name, json.dumps(args))


def drone(expect: dict[str, Any], *calls: ToolCall) -> Verdict:
    return judge(expect, list(calls), DRONE_TOOLS)


def probe(expected: Any, *actual: Any, exact: bool = False) -> Verdict:
    """Judge `value: expected` against a call with `value` = actual (none given: absent)."""
    args = {"value": actual[0]} if actual else {}
    return judge(
        {"tool": "probe", "args": {"value": expected}, "exact": exact},
        [call("probe", **args)],
        PROBE_TOOLS,
    )


# ---- outcomes -----------------------------------------------------------------------------


def test_outcomes_are_ordered_worst_first_with_user_facing_values():
    assert [outcome.value for outcome in Outcome] == [
        "error",
        "no_call",
        "unknown_tool",
        "invalid_args",
        "wrong_tool",
        "wrong_args",
        "extra_call",
        "missing_call",
        "unexpected_call",
        "pass",
    ]
    assert f"{Outcome.WRONG_ARGS}" == "wrong_args"
    assert Outcome("no_call") is Outcome.NO_CALL


def test_pass_has_an_empty_detail():
    verdict = drone(
        {"tool": "land_drone", "args": {"location": "home_base"}},
        call("land_drone", location="home_base"),
    )
    assert verdict == Verdict(Outcome.PASS, "")
    assert verdict.passed


def test_no_call_when_a_call_was_expected():
    verdict = drone({"tool": "land_drone"})
    assert verdict.outcome is Outcome.NO_CALL
    assert verdict.detail == "expected land_drone, got no call"
    assert not verdict.passed


def test_unknown_tool():
    verdict = drone({"tool": "land_drone"}, call("land", location="home_base"))
    assert verdict.outcome is Outcome.UNKNOWN_TOOL
    assert "'land'" in verdict.detail


@pytest.mark.parametrize(
    ("arguments", "detail"),
    [
        ('{"location": "home_base"', "land_drone arguments are not JSON: "),
        ('["home_base"]', "land_drone arguments are not a JSON object: ['home_base']"),
        ("null", "land_drone arguments are not a JSON object: null"),
        ("", "land_drone arguments are not JSON: ''"),
        ('{"location": NaN}', "land_drone arguments are not JSON"),
        ('{"location": "moon"}', "land_drone args.location: 'moon' is not one of"),
        (
            '{"location": "home_base", "height": 3}',
            "land_drone args.height: no such argument (it has: coordinates, location)",
        ),
        ("{}", "land_drone args: 'location' is a required property"),
    ],
)
def test_invalid_args(arguments: str, detail: str):
    verdict = drone({"tool": "land_drone"}, ToolCall("land_drone", arguments))
    assert verdict.outcome is Outcome.INVALID_ARGS
    assert verdict.detail.startswith(detail)


def test_invalid_args_for_a_negative_speed():
    # The cookbook's "speed -120" near miss: the schema says minimum 0.
    verdict = drone({"tool": "reject_request"}, call("set_drone_speed", speed=-120))
    assert verdict == Verdict(
        Outcome.INVALID_ARGS, "set_drone_speed args.speed: -120 is less than the minimum of 0"
    )


def test_wrong_tool():
    verdict = drone({"tool": "land_drone"}, call("takeoff_drone", altitude=30))
    assert verdict == Verdict(Outcome.WRONG_TOOL, "expected land_drone, got takeoff_drone")


def test_wrong_args_names_the_first_differing_argument():
    verdict = drone(
        {"tool": "control_drone_movement", "args": {"direction": "forward", "distance": 10}},
        call("control_drone_movement", direction="backward", distance=20),
    )
    assert verdict == Verdict(
        Outcome.WRONG_ARGS, "args.direction: expected 'forward', got 'backward'"
    )


def test_wrong_args_for_a_missing_optional_argument():
    verdict = drone(
        {"tool": "configure_led_display", "args": {"pattern": "solid", "color": "red"}},
        call("configure_led_display", pattern="solid"),
    )
    assert verdict == Verdict(Outcome.WRONG_ARGS, "args.color: missing (expected 'red')")


def test_extra_call():
    verdict = drone(
        {"tool": "takeoff_drone", "args": {"altitude": 30}},
        call("takeoff_drone", altitude=30),
        call("control_camera", mode="photo"),
    )
    assert verdict == Verdict(Outcome.EXTRA_CALL, "extra call control_camera {mode: 'photo'}")


def test_missing_call():
    verdict = drone(
        {"calls": [{"tool": "takeoff_drone"}, {"tool": "control_camera"}]},
        call("control_camera", mode="photo"),
    )
    assert verdict == Verdict(Outcome.MISSING_CALL, "calls[0]: missing call takeoff_drone")


def test_unexpected_call():
    verdict = drone({"no_call": True}, call("set_follow_me_mode", status="on"))
    assert verdict == Verdict(
        Outcome.UNEXPECTED_CALL, "expected no call, got set_follow_me_mode {status: 'on'}"
    )


def test_no_call_expected_and_none_made_passes():
    assert drone({"no_call": True}).passed


def test_judge_never_produces_error():
    weird = ["", "{", "[]", "1", '"x"', "{}", '{"altitude": true}', "\x00", "{" * 5000]
    for arguments in weird:
        for name in ("takeoff_drone", "nope"):
            verdict = drone({"tool": "takeoff_drone"}, ToolCall(name, arguments))
            assert verdict.outcome in (Outcome.UNKNOWN_TOOL, Outcome.INVALID_ARGS)


# ---- precedence: the worst applicable outcome wins ----------------------------------------


def test_unknown_tool_beats_invalid_args_in_another_call():
    verdict = drone(
        {"tool": "takeoff_drone"}, call("takeoff_drone", altitude="high"), call("hover")
    )
    assert verdict.outcome is Outcome.UNKNOWN_TOOL


def test_invalid_args_beats_unexpected_call():
    verdict = drone({"no_call": True}, call("set_drone_speed", speed=-1))
    assert verdict.outcome is Outcome.INVALID_ARGS


def test_wrong_tool_beats_wrong_args_among_parallel_calls():
    verdict = drone(
        {"calls": [{"tool": "takeoff_drone", "args": {"altitude": 30}}, {"tool": "land_drone"}]},
        call("takeoff_drone", altitude=50),
        call("control_camera", mode="photo"),
    )
    assert verdict == Verdict(
        Outcome.WRONG_TOOL, "calls[1]: expected land_drone, got control_camera"
    )


def test_wrong_args_beats_extra_call():
    verdict = drone(
        {"tool": "takeoff_drone", "args": {"altitude": 30}},
        call("takeoff_drone", altitude=50),
        call("takeoff_drone", altitude=60),
    )
    assert verdict.outcome is Outcome.WRONG_ARGS
    assert verdict.detail == "args.altitude: expected 30, got 50"


def test_wrong_args_beats_missing_call():
    verdict = drone(
        {"calls": [{"tool": "takeoff_drone", "args": {"altitude": 30}}, {"tool": "land_drone"}]},
        call("takeoff_drone", altitude=50),
    )
    assert verdict.outcome is Outcome.WRONG_ARGS


# ---- literals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual", "passes"),
    [
        (100, 100.0, True),
        (100.0, 100, True),
        (100, 101, False),
        (True, 1, False),
        (1, True, False),
        (False, 0, False),
        (True, True, True),
        ("1", 1, False),
        ("home_base", "Home_Base", False),
        ("home_base", "home_base ", False),
        (None, None, True),
        (None, 0, False),
    ],
)
def test_literal(expected: Any, actual: Any, passes: bool):
    assert probe(expected, actual).passed is passes


def test_literal_expected_but_argument_absent():
    assert probe(5) == Verdict(Outcome.WRONG_ARGS, "args.value: missing (expected 5)")


@pytest.mark.parametrize(
    ("expected", "actual", "passes"),
    [
        ({"lat": 1}, {"lat": 1, "lon": 2}, True),
        ({"lat": 1}, {"lat": 2, "lon": 2}, False),
        ({"lat": 1}, {"lon": 2}, False),
        ({"at": {"lat": 1}}, {"at": {"lat": 1, "lon": 2}}, True),
        ({"lat": 1}, [1], False),
        ({}, {"anything": 1}, True),
        ([1, 2], [1, 2], True),
        ([1, 2], [2, 1], False),
        ([1, 2], [1, 2, 3], False),
        ([1], 1, False),
        ([{"a": 1}], [{"a": 1, "b": 2}], True),
    ],
)
def test_nested_mapping_is_a_subset_and_list_is_element_wise(expected, actual, passes):
    assert probe(expected, actual).passed is passes


def test_nested_difference_names_the_nested_path():
    verdict = probe({"at": [{"lat": 1}]}, {"at": [{"lat": 2}]})
    assert verdict.detail == "args.value.at[0].lat: expected 1, got 2"


def test_exact_refuses_extra_top_level_arguments():
    expect = {"tool": "control_camera", "args": {"mode": "video"}}
    actual = call("control_camera", mode="video", duration=10)
    assert drone(expect, actual).passed
    verdict = drone({**expect, "exact": True}, actual)
    assert verdict == Verdict(Outcome.WRONG_ARGS, "args.duration: expected absent, got 10")


def test_exact_holds_inside_nested_mappings_too():
    assert probe({"lat": 1}, {"lat": 1, "lon": 2}).passed
    verdict = probe({"lat": 1}, {"lat": 1, "lon": 2}, exact=True)
    assert verdict.detail == "args.value.lon: expected absent, got 2"
    assert probe({"lat": 1, "lon": 2}, {"lon": 2, "lat": 1}, exact=True).passed


def test_exact_inside_calls_entries():
    verdict = drone(
        {"calls": [{"tool": "control_camera", "args": {"mode": "video"}, "exact": True}]},
        call("control_camera", mode="video", duration=3),
    )
    assert verdict.detail == "calls[0].args.duration: expected absent, got 3"


# ---- operators ----------------------------------------------------------------------------

ABSENT = object()


@pytest.mark.parametrize(
    ("expected", "actual", "passes"),
    [
        ({"$one_of": ["on", "blink"]}, "blink", True),
        ({"$one_of": ["on", "blink"]}, "off", False),
        ({"$one_of": [1, 2]}, True, False),
        ({"$one_of": ["units", {"$absent": True}]}, ABSENT, True),
        ({"$one_of": ["units", {"$absent": True}]}, "units", True),
        ({"$one_of": ["units", {"$absent": True}]}, "metric", False),
        ({"$one_of": [{"$regex": "home.*"}, "base"]}, "home_base", True),
        ({"$one_of": [{"$regex": "home.*"}, "base"]}, "base", True),
        ({"$one_of": [{"$regex": "home.*"}, "base"]}, "my_base", False),
        ({"$regex": "^home"}, "home_base", False),  # full match: DESIGN's "^home" is just "home"
        ({"$regex": "home.*"}, "home_base", True),
        ({"$regex": "home"}, "home_base", False),  # a full match, not a search
        ({"$regex": "[0-9]+"}, 42, False),  # strings only
        ({"$contains": "base"}, "home_base", True),
        ({"$contains": "Base"}, "home_base", False),
        ({"$contains": "1"}, 1, False),
        ({"$icase": "Home_Base"}, "home_BASE", True),
        ({"$icase": "STRASSE"}, "straße", True),  # casefold, not lower
        ({"$icase": "home"}, "home_base", False),
        ({"$icase": "1"}, 1, False),
        ({"$approx": 3.5, "$tol": 0.1}, 3.55, True),
        ({"$approx": 3.5, "$tol": 0.1}, 3.4, True),
        ({"$approx": 3.5, "$tol": 0.1}, 3.7, False),
        ({"$approx": 0.3}, 0.1 + 0.2, True),  # default: float noise only
        ({"$approx": 0.3}, 0.3001, False),
        ({"$approx": 0}, 1e-12, True),
        ({"$approx": 1}, True, False),
        ({"$approx": 1}, "1", False),
        ({"$approx": 3.5}, ABSENT, False),
        ({"$between": [1, 5]}, 1, True),
        ({"$between": [1, 5]}, 5.0, True),
        ({"$between": [1, 5]}, 5.5, False),
        ({"$between": [1, 5]}, True, False),
        ({"$between": [1, 5]}, "3", False),
        ({"$any": True}, None, True),
        ({"$any": True}, [], True),
        ({"$any": True}, ABSENT, False),
        ({"$absent": True}, ABSENT, True),
        ({"$absent": True}, None, False),
        ({"$unordered": [1, 2]}, [2, 1], True),
        ({"$unordered": [1, 2]}, [1, 2], True),
        ({"$unordered": [1, 1]}, [1, 2], False),
        ({"$unordered": [1, 2]}, [1, 2, 2], False),
        ({"$unordered": [1]}, 1, False),
        ({"$unordered": []}, [], True),
        # a proper matching, not greedy: {$any} must not take the 1 that `1` needs
        ({"$unordered": [{"$any": True}, 1]}, [1, 2], True),
        ({"$unordered": [{"$regex": "a.*"}, "ab"]}, ["ab", "ac"], True),
        ({"$unordered": [{"x": 1}, {"x": 2}]}, [{"x": 2, "y": 0}, {"x": 1}], True),
        ({"$regex": "^h.*", "$contains": "base"}, "home_base", True),  # all must hold
        ({"$regex": "^h.*", "$contains": "base"}, "hover", False),
        ({"$between": [0, 10], "$one_of": [2, 20]}, 20, False),
    ],
)
def test_operator(expected: Any, actual: Any, passes: bool):
    verdict = probe(expected) if actual is ABSENT else probe(expected, actual)
    assert verdict.passed is passes
    assert verdict.outcome in (Outcome.PASS, Outcome.WRONG_ARGS)


def test_operators_nest():
    expected = {
        "$one_of": [{"$unordered": [{"$approx": 1.0, "$tol": 0.5}, "x"]}, {"$absent": True}]
    }
    assert probe(expected, ["x", 1.2]).passed
    assert probe(expected).passed
    assert not probe(expected, ["x", 2]).passed
    nested = {"at": {"lat": {"$between": [-90, 90]}, "name": {"$icase": "home"}}}
    assert probe(nested, {"at": {"lat": 45.5, "name": "HOME"}}).passed
    assert probe(nested, {"at": {"lat": 95, "name": "HOME"}}).detail == (
        "args.value.at.lat: expected between [-90, 90], got 95"
    )


@pytest.mark.parametrize(
    ("expected", "actual", "detail"),
    [
        ({"$one_of": ["on", "blink"]}, "off", "expected one of 'on', 'blink', got 'off'"),
        ({"$regex": "^home"}, "base", "expected a match of '^home', got 'base'"),
        ({"$contains": "base"}, "home", "expected text containing 'base', got 'home'"),
        ({"$icase": "Home"}, "hom", "expected 'Home' in any case, got 'hom'"),
        ({"$approx": 3.5, "$tol": 0.1}, 4, "expected about 3.5 and within 0.1, got 4"),
        ({"$unordered": [1, 2]}, [1], "expected [1, 2] in any order, got [1]"),
        ({"$absent": True}, 3, "expected absent, got 3"),
    ],
)
def test_operator_details_say_what_was_expected(expected, actual, detail):
    assert probe(expected, actual).detail == f"args.value: {detail}"


def test_any_on_absent_argument_reads_missing():
    assert probe({"$any": True}).detail == "args.value: missing (expected any value)"


# ---- any_of ---------------------------------------------------------------------------------

NIGHT_VISION = {
    "any_of": [
        {"tool": "reject_request"},
        {"tool": "set_drone_lighting", "args": {"mode": {"$one_of": ["on", "blink"]}}},
    ]
}


def test_any_of_passes_when_one_alternative_passes():
    assert drone(NIGHT_VISION, call("reject_request")).passed
    assert drone(NIGHT_VISION, call("set_drone_lighting", mode="on")).passed


def test_any_of_reports_the_closest_alternative():
    verdict = drone(NIGHT_VISION, call("set_drone_lighting", mode="sos"))
    assert verdict == Verdict(
        Outcome.WRONG_ARGS,
        "no alternative matched; closest: args.mode: expected one of 'on', 'blink', got 'sos'",
    )


def test_any_of_with_no_call_alternative():
    expect = {"any_of": [{"no_call": True}, {"tool": "reject_request"}]}
    assert drone(expect).passed
    assert drone(expect, call("reject_request")).passed
    verdict = drone(expect, call("land_drone", location="current"))
    # unexpected_call (1st alternative) is less bad than wrong_tool (2nd) in the Outcome order
    assert verdict == Verdict(
        Outcome.UNEXPECTED_CALL,
        "no alternative matched; closest: expected no call, got land_drone {location: 'current'}",
    )


def test_any_of_returns_invalid_args_as_is():
    verdict = drone(NIGHT_VISION, call("set_drone_lighting", mode="dim"))
    assert verdict.outcome is Outcome.INVALID_ARGS
    assert "closest" not in verdict.detail


# ---- parallel calls -----------------------------------------------------------------------

CLIMB_THEN_PHOTO = {
    "calls": [
        {"tool": "takeoff_drone", "args": {"altitude": 30}},
        {"tool": "control_camera", "args": {"mode": "photo"}},
    ]
}


def test_parallel_calls_in_any_order():
    first, second = call("takeoff_drone", altitude=30), call("control_camera", mode="photo")
    assert drone(CLIMB_THEN_PHOTO, first, second).passed
    assert drone(CLIMB_THEN_PHOTO, second, first).passed


def test_parallel_calls_count_must_match():
    takeoff, photo = call("takeoff_drone", altitude=30), call("control_camera", mode="photo")
    assert drone(CLIMB_THEN_PHOTO, photo).outcome is Outcome.MISSING_CALL
    extra = drone(CLIMB_THEN_PHOTO, photo, takeoff, photo)
    assert extra == Verdict(Outcome.EXTRA_CALL, "extra call control_camera {mode: 'photo'}")


def test_parallel_wrong_args_names_the_entry():
    verdict = drone(
        CLIMB_THEN_PHOTO, call("control_camera", mode="video"), call("takeoff_drone", altitude=30)
    )
    assert verdict == Verdict(
        Outcome.WRONG_ARGS, "calls[1].args.mode: expected 'photo', got 'video'"
    )


def test_parallel_pairing_is_optimal_not_greedy():
    expect = {
        "calls": [
            {"tool": "takeoff_drone", "args": {"altitude": {"$any": True}}},
            {"tool": "takeoff_drone", "args": {"altitude": 30}},
        ]
    }
    # Greedy pairing in order gives the 30 to the first entry and then fails the second.
    assert drone(
        expect, call("takeoff_drone", altitude=30), call("takeoff_drone", altitude=50)
    ).passed


def test_parallel_pairing_prefers_same_tool_for_the_report():
    expect = {"calls": [{"tool": "land_drone", "args": {"location": "home_base"}}]}
    verdict = drone(
        expect, call("takeoff_drone", altitude=30), call("land_drone", location="current")
    )
    assert verdict.outcome is Outcome.WRONG_ARGS
    assert verdict.detail == "calls[0].args.location: expected 'home_base', got 'current'"


def test_many_parallel_calls_stay_fast():
    expect = {"calls": [{"tool": "takeoff_drone", "args": {"altitude": n}} for n in range(60)]}
    calls = [call("takeoff_drone", altitude=n) for n in reversed(range(60))]
    assert drone(expect, *calls).passed
    assert drone(expect, *calls[:-1]).outcome is Outcome.MISSING_CALL


# ---- details are short and terminal-safe --------------------------------------------------


def test_long_values_are_clipped():
    verdict = probe("short", "x" * 10_000)
    assert verdict.outcome is Outcome.WRONG_ARGS
    assert len(verdict.detail) < 120
    assert "..." in verdict.detail


def test_control_characters_are_escaped():
    verdict = drone({"tool": "land_drone"}, ToolCall("\x1b[31mland", "{}"))
    assert "\x1b" not in verdict.detail
    assert "\\x1b" in verdict.detail
    verdict = probe("a", "b\n\x07c")
    assert verdict.detail.isprintable()
    # argument names come from the model too, and end up in paths
    verdict = drone({"tool": "land_drone"}, ToolCall("land_drone", '{"\\u001b[2J": 1}'))
    assert verdict.outcome is Outcome.INVALID_ARGS
    assert verdict.detail.isprintable()
    verdict = probe({}, {"\x1b[2J": 1}, exact=True)
    assert verdict == Verdict(Outcome.WRONG_ARGS, "args.value.\\x1b[2J: expected absent, got 1")


def test_deeply_nested_model_output_does_not_raise():
    deep: Any = 1
    for _ in range(500):
        deep = [deep]
    verdict = probe({"a": 1}, deep)
    assert verdict.outcome is Outcome.WRONG_ARGS


# ---- schemas ------------------------------------------------------------------------------


def test_schema_draft_is_taken_from_dollar_schema():
    # prefixItems exists in 2020-12 (the default), not in draft-07, where it is ignored.
    items = {"type": "array", "prefixItems": [{"type": "string"}]}
    default = {"type": "object", "properties": {"xs": items}}
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **default}
    assert judge({"tool": "t"}, [call("t", xs=[1])], {"t": default}).outcome is Outcome.INVALID_ARGS
    assert judge({"tool": "t"}, [call("t", xs=[1])], {"t": draft7}).passed


def test_schema_that_allows_extra_arguments_explicitly_is_respected():
    open_tool = {"t": {"type": "object", "properties": {}, "additionalProperties": True}}
    assert judge({"tool": "t"}, [call("t", anything=1)], open_tool).passed


def test_nested_objects_follow_their_schema():
    # coordinates is a free-form object: any keys are valid.
    verdict = drone(
        {"tool": "set_home_location", "args": {"coordinates": {"lat": 1}}},
        call("set_home_location", coordinates={"lat": 1, "lon": 2, "alt": 3}),
    )
    assert verdict.passed


# ---- BFCL agreement (berkeley-function-call-leaderboard ast_checker.py rules) -------------


def test_bfcl_required_parameters_must_be_present():
    # simple_function_checker: "Missing required parameter" -> invalid.
    assert (
        drone(
            {"tool": "control_drone_movement"}, call("control_drone_movement", direction="up")
        ).outcome
        is Outcome.INVALID_ARGS
    )


def test_bfcl_unknown_parameters_are_invalid_without_additional_properties_false():
    # simple_function_checker: a parameter not in the function's properties is "Unexpected".
    assert "additionalProperties" not in DRONE_TOOLS["return_to_home"]
    verdict = drone({"tool": "return_to_home"}, call("return_to_home", speed=5))
    assert verdict.outcome is Outcome.INVALID_ARGS
    assert verdict.detail == "return_to_home args.speed: no such argument (it has: none)"


@pytest.mark.parametrize("altitude", ["30", 30.0, 30.5, True, None, [30]])
def test_bfcl_types_are_exact(altitude: Any):
    # type_checker compares type(value) with the declared type: no str/float/bool for integer.
    verdict = drone({"tool": "takeoff_drone"}, call("takeoff_drone", altitude=altitude))
    assert verdict.outcome is Outcome.INVALID_ARGS


def test_bfcl_int_is_accepted_where_a_float_is_expected():
    # "Allow python auto conversion from int to float": 3 is a valid value for a float 3.0.
    tools = {"zoom": {"type": "object", "properties": {"factor": {"type": "number"}}}}
    assert judge({"tool": "zoom", "args": {"factor": 3.0}}, [call("zoom", factor=3)], tools).passed
    assert judge({"tool": "zoom", "args": {"factor": 3}}, [call("zoom", factor=3.0)], tools).passed


def test_bfcl_possible_answers_are_a_list_of_acceptable_values():
    # possible_answer[param] is a list; any member matches -> $one_of.
    expect = {"tool": "set_drone_lighting", "args": {"mode": {"$one_of": ["on", "blink"]}}}
    assert drone(expect, call("set_drone_lighting", mode="blink")).passed
    assert not drone(expect, call("set_drone_lighting", mode="sos")).passed


def test_bfcl_optional_parameter_marked_by_empty_string():
    # "" among possible answers = may be omitted; otherwise omission fails ("missing_optional").
    optional = {"$one_of": ["red", {"$absent": True}]}
    led = {"tool": "configure_led_display", "args": {"pattern": "rainbow", "color": optional}}
    assert drone(led, call("configure_led_display", pattern="rainbow")).passed
    assert drone(led, call("configure_led_display", pattern="rainbow", color="red")).passed
    required = {**led, "args": {"pattern": "rainbow", "color": "red"}}
    assert drone(required, call("configure_led_display", pattern="rainbow")).outcome is (
        Outcome.WRONG_ARGS
    )


def test_bfcl_lists_compare_in_order():
    # list_checker: the model's list must equal one of the possible lists, order included.
    assert probe(["a", "b"], ["a", "b"]).passed
    assert not probe(["a", "b"], ["b", "a"]).passed


def test_bfcl_nested_dicts_with_exact_refuse_unexpected_and_missing_keys():
    # dict_checker: "Unexpected dict key parameter" / "Missing dict key parameter".
    assert not probe({"lat": 1}, {"lat": 1, "lon": 2}, exact=True).passed
    assert not probe({"lat": 1, "lon": 2}, {"lat": 1}, exact=True).passed


def test_bfcl_parallel_calls_are_matched_without_order_and_counted():
    # parallel_function_checker_no_order: wrong count fails, then each answer finds a partner.
    takeoff, photo = call("takeoff_drone", altitude=30), call("control_camera", mode="photo")
    assert drone(CLIMB_THEN_PHOTO, photo, takeoff).passed
    assert not drone(CLIMB_THEN_PHOTO, photo).passed
    assert not drone(CLIMB_THEN_PHOTO, photo, takeoff, takeoff).passed


def test_bfcl_single_call_cases_need_exactly_one_call():
    # ast_checker simple category: len(model_output) != 1 -> "Wrong number of functions".
    land = call("land_drone", location="current")
    assert drone({"tool": "land_drone"}, land, land).outcome is Outcome.EXTRA_CALL


def test_bfcl_function_name_must_match():
    # simple_function_checker: "Function name ... not found in model output".
    assert drone({"tool": "land_drone"}, call("return_to_home")).outcome is Outcome.WRONG_TOOL


def test_bfcl_difference_strings_are_exact_here():
    # BFCL's standardize_string drops case, spaces and ,./-_*^; DESIGN compares exactly.
    expect = {"tool": "probe", "args": {"value": "Home Base"}}
    assert not judge(expect, [call("probe", value="home_base")], PROBE_TOOLS).passed
    assert probe({"$icase": "Home Base"}, "home base").passed


def test_bfcl_difference_extra_optional_arguments_allowed_unless_exact():
    # BFCL refuses a parameter missing from the possible answer; here only `exact: true` does.
    expect = {"tool": "control_camera", "args": {"mode": "video"}}
    actual = call("control_camera", mode="video", duration=5)
    assert drone(expect, actual).passed
    assert not drone({**expect, "exact": True}, actual).passed


# ---- expectation_problems -----------------------------------------------------------------


def problems(expect: dict[str, Any], tools: dict[str, Any] = DRONE_TOOLS) -> list[str]:
    return expectation_problems(expect, tools)


@pytest.mark.parametrize(
    "expect",
    [
        {"tool": "reject_request"},
        {"no_call": True},
        {"tool": "land_drone", "args": {"location": "home_base"}, "exact": True},
        {"tool": "set_drone_lighting", "args": {"mode": "on"}},  # YAML 1.2: "on" is a string
        {"tool": "set_drone_lighting", "args": {"mode": {"$one_of": ["on", "blink"]}}},
        {
            "tool": "configure_led_display",
            "args": {"color": {"$one_of": ["red", {"$absent": True}]}},
        },
        {"tool": "takeoff_drone", "args": {"altitude": {"$between": [10, 50]}}},
        {"tool": "takeoff_drone", "args": {"altitude": {"$approx": 30, "$tol": 1}}},
        {"tool": "land_drone", "args": {"location": {"$regex": "^home", "$contains": "base"}}},
        {"tool": "land_drone", "args": {"coordinates": {"lat": 1, "lon": {"$any": True}}}},
        {"calls": [{"tool": "takeoff_drone"}, {"tool": "control_camera"}]},
        {"any_of": [{"no_call": True}, {"tool": "reject_request"}]},
    ],
)
def test_valid_expectations_have_no_problems(expect):
    assert problems(expect) == []


def test_problem_unknown_tool_lists_the_tools_sorted():
    tools = {"takeoff_drone": {}, "land_drone": {}, "control_camera": {}}
    assert problems({"tool": "land"}, tools) == [
        "expect.tool 'land' is not one of the suite's tools: "
        "control_camera, land_drone, takeoff_drone"
    ]


def test_problem_unknown_argument():
    assert problems({"tool": "land_drone", "args": {"height": 3}}) == [
        "expect.args.height: land_drone has no argument 'height' (it has: coordinates, location)"
    ]


def test_problem_literal_outside_enum():
    assert problems({"tool": "control_camera", "args": {"mode": "photoo"}}) == [
        "expect.args.mode: 'photoo' is not one of photo, video, panorama"
    ]


@pytest.mark.parametrize("altitude", ["thirty", True, 30.5, None])
def test_problem_literal_of_the_wrong_type(altitude: Any):
    found = problems({"tool": "takeoff_drone", "args": {"altitude": altitude}})
    assert len(found) == 1
    assert found[0].startswith("expect.args.altitude: ")
    assert "is not of type 'integer'" in found[0]


def test_problem_literal_outside_the_schema_bounds():
    found = problems({"tool": "set_drone_speed", "args": {"speed": -120}})
    assert found == ["expect.args.speed: -120 is less than the minimum of 0"]


def test_problem_unknown_operator_lists_the_known_ones():
    found = problems({"tool": "land_drone", "args": {"location": {"$regx": "^home"}}})
    assert found == [
        "expect.args.location: unknown operator '$regx' (known: $absent, $any, $approx, "
        "$between, $contains, $icase, $one_of, $regex, $tol, $unordered)"
    ]


@pytest.mark.parametrize(
    ("operator", "problem"),
    [
        ({"$regex": "(home"}, "$regex: '(home' is not a 'regex'"),
        ({"$regex": 5}, "$regex: 5 is not of type 'string'"),
        ({"$contains": ["a"]}, "$contains: ['a'] is not of type 'string'"),
        ({"$icase": None}, "$icase: None is not of type 'string'"),
        ({"$between": [5]}, "$between: [5] is too short"),
        ({"$between": [1, 2, 3]}, "$between: [1, 2, 3] is too long"),
        ({"$between": ["a", 5]}, "$between: 'a' is not of type 'number'"),
        ({"$approx": "30"}, "$approx: '30' is not of type 'number'"),
        ({"$approx": True}, "$approx: True is not of type 'number'"),
        ({"$approx": 30, "$tol": -1}, "$tol: -1 is less than the minimum of 0"),
        ({"$tol": 1}, "$tol only goes with $approx"),
        ({"$one_of": "on"}, "$one_of: 'on' is not of type 'array'"),
        ({"$one_of": []}, "$one_of: [] should be non-empty"),
        ({"$any": False}, "$any: True was expected"),
        ({"$absent": "yes"}, "$absent: True was expected"),
        ({"$unordered": 3}, "$unordered: 3 is not of type 'array'"),
    ],
)
def test_problem_malformed_operator(operator, problem):
    tools = {"probe": {"type": "object", "properties": {"value": {}}}}
    assert problems({"tool": "probe", "args": {"value": operator}}, tools) == [
        f"expect.args.value: {problem}"
    ]


def test_problem_mixed_operator_and_plain_keys():
    found = problems({"tool": "land_drone", "args": {"coordinates": {"$any": True, "lat": 1}}})
    assert found == ["expect.args.coordinates: mixes operators ($any) with plain keys"]


def test_problem_values_inside_one_of_are_checked():
    found = problems(
        {"tool": "set_drone_lighting", "args": {"mode": {"$one_of": ["on", "dim", 3]}}}
    )
    assert found == [
        "expect.args.mode: 'dim' is not one of on, off, blink, sos",
        "expect.args.mode: 3 is not of type 'string'",
    ]


def test_problem_absent_for_a_required_argument():
    found = problems({"tool": "takeoff_drone", "args": {"altitude": {"$absent": True}}})
    assert found == [
        "expect.args.altitude: $absent can never match, takeoff_drone requires 'altitude'"
    ]


NESTED_TOOL = {
    "route": {
        "type": "object",
        "properties": {
            "stops": {
                "type": "array",
                "items": {"type": "string", "enum": ["home", "field", "pad"]},
            },
            "target": {
                "type": "object",
                "properties": {"lat": {"type": "number"}, "kind": {"enum": ["gps", "grid"]}},
                "additionalProperties": False,
            },
        },
    }
}


def test_problem_nested_objects_against_nested_properties():
    found = problems(
        {"tool": "route", "args": {"target": {"lat": "north", "kind": "utm", "alt": 3}}},
        NESTED_TOOL,
    )
    assert found == [
        "expect.args.target.lat: 'north' is not of type 'number'",
        "expect.args.target.kind: 'utm' is not one of gps, grid",
        "expect.args.target.alt: route.target has no key 'alt' (it has: kind, lat)",
    ]
    assert problems({"tool": "route", "args": {"target": "home"}}, NESTED_TOOL) == [
        "expect.args.target: 'home' is not of type 'object'"
    ]


def test_problem_list_items_against_items():
    found = problems(
        {"tool": "route", "args": {"stops": ["home", "moon", {"$one_of": ["pad", "sea"]}]}},
        NESTED_TOOL,
    )
    assert found == [
        "expect.args.stops[1]: 'moon' is not one of home, field, pad",
        "expect.args.stops[2]: 'sea' is not one of home, field, pad",
    ]
    unordered = {"$unordered": ["pad", "lake"]}
    assert problems({"tool": "route", "args": {"stops": unordered}}, NESTED_TOOL) == [
        "expect.args.stops[1]: 'lake' is not one of home, field, pad"
    ]
    assert problems({"tool": "route", "args": {"stops": "home"}}, NESTED_TOOL) == [
        "expect.args.stops: 'home' is not of type 'array'"
    ]


def test_problem_paths_name_calls_and_alternatives():
    expect = {
        "any_of": [
            {"tool": "land"},
            {
                "calls": [
                    {"tool": "takeoff_drone", "args": {"altitude": 30}},
                    {"tool": "control_camera", "args": {"mode": "selfie"}},
                ]
            },
        ]
    }
    found = problems(expect)
    assert len(found) == 2
    assert found[0].startswith("expect.any_of[0].tool 'land' is not one of the suite's tools: ")
    assert found[1] == (
        "expect.any_of[1].calls[1].args.mode: 'selfie' is not one of photo, video, panorama"
    )
