"""Tags become pytest marks: a tag naming one of pytest's own marks is a collection error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
from helpers import runpytest

from pytest_toolcall.collect.tags import PYTEST_MARKS

SUITE = """\
tools: tools.json
cases:
  - id: fine
    prompt: thanks
    expect: {{no_call: true}}
    tags: [smoke]
  - id: tagged
    prompt: Land the drone at the home base
    expect: {{tool: land_drone, args: {{location: home_base}}}}
    tags: [flight, {tag}]
"""


@pytest.mark.parametrize(
    "tag",
    ["skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "tryfirst"],
)
def test_tag_naming_a_pytest_mark_is_a_collection_error(pytester, fake_openai, drone_tools, tag):
    pytester.makefile(".yaml", suite=textwrap.dedent(SUITE.format(tag=tag)))
    server = fake_openai({"thanks": {"text": "you're welcome"}})
    result = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live"
    )
    output = result.stdout.str()
    assert result.ret != 0, output
    assert (
        f"suite.yaml:10: case 'tagged': tags: {tag!r} is one of pytest's own marks "
        f"(each tag becomes a pytest mark, so it would act as @pytest.mark.{tag}); rename it"
    ) in output, output
    assert server.requests == []  # nothing sent, nothing counted
    assert "SKIPPED" not in output and "XPASS" not in output


def test_a_tag_that_only_differs_in_case_is_fine(pytester, fake_openai, drone_tools):
    pytester.makefile(".yaml", suite=textwrap.dedent(SUITE.format(tag="Skip")))
    server = fake_openai(
        {
            "thanks": {"text": "you're welcome"},
            "Land the drone at the home base": {
                "tool": "land_drone",
                "args": {"location": "home_base"},
            },
        }
    )
    result = runpytest(
        pytester, "--model=m", f"--toolcall-base-url={server.base_url}", "--toolcall-live"
    )
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=3)


def test_the_list_is_every_mark_pytest_itself_registers():
    environment = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    listing = subprocess.run(
        [sys.executable, "-m", "pytest", "--markers", "-p", "pytester", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    ).stdout
    registered = set(re.findall(r"^@pytest\.mark\.(\w+)", listing, re.MULTILINE))
    assert registered == set(PYTEST_MARKS)
