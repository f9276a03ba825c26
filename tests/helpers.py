"""Small helpers shared by the pytester tests."""

from __future__ import annotations

import pytest

# The outer pytest already imported the plugin, so the inner session cannot rewrite it.
QUIET = ("-W", "ignore::pytest.PytestAssertRewriteWarning")


def runpytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run an in-process pytest session as a user would, minus the rewrite warning."""
    return pytester.runpytest(*QUIET, *args)
