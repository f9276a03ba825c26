"""The arithmetic of reports: paired exact test, pass@k / pass^k, Wilson, cost."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from pytest_toolcall.report.cost import PriceError, format_cost, parse_prices, records_cost
from pytest_toolcall.report.stats import (
    describe_paired,
    mcnemar_exact,
    paired_test,
    pass_at_k,
    pass_hat_k,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("fixed", "broken", "exact"),
    [
        (6, 2, Fraction(74, 256)),
        (2, 6, Fraction(74, 256)),
        (14, 0, Fraction(2, 16384)),
        (0, 14, Fraction(2, 16384)),
        (0, 0, Fraction(1)),
        (3, 3, Fraction(1)),  # 2 * P(X <= 3) > 1: capped
        (1, 0, Fraction(1)),
    ],
)
def test_mcnemar_exact_matches_the_binomial_by_hand(fixed, broken, exact):
    assert math.isclose(mcnemar_exact(fixed, broken), float(exact), rel_tol=1e-12)


def test_paired_test_is_described_with_counts_and_verdict():
    assert describe_paired(paired_test(6, 2)) == (
        "+4: 6 fixed, 2 broken, p = 0.29 (not significant at 0.05)"
    )
    assert describe_paired(paired_test(0, 14)) == (
        "-14: 0 fixed, 14 broken, p = 0.00012 (significant at 0.05)"
    )
    assert (
        describe_paired(paired_test(0, 0))
        == "+0: 0 fixed, 0 broken, p = 1.00 (not significant at 0.05)"
    )
    assert paired_test(6, 2, alpha=0.3)["significant"] is True


@pytest.mark.parametrize(
    ("n", "c", "k", "at_k", "hat_k"),
    [
        (3, 3, 3, 1.0, 1.0),
        (3, 2, 3, 1.0, 0.0),
        (3, 0, 3, 0.0, 0.0),
        (5, 2, 2, 1 - 3 / 10, 1 / 10),
        (10, 5, 1, 0.5, 0.5),
    ],
)
def test_pass_at_k_and_pass_hat_k(n, c, k, at_k, hat_k):
    assert math.isclose(pass_at_k(n, c, k), at_k)
    assert math.isclose(pass_hat_k(n, c, k), hat_k)


def test_pass_at_k_needs_k_samples():
    with pytest.raises(ValueError, match="k=4"):
        pass_at_k(3, 1, 4)


def test_wilson_lower_bound_of_all_passing_is_below_one():
    low, high = wilson_interval(30, 30)
    assert high == 1.0 and 0.88 < low < 0.89
    assert wilson_interval(0, 0) is None


def test_prices_parse_and_price_records():
    prices = parse_prices(
        ["", "gpt-4o-mini = 0.15 0.60", "ft:gpt-4o-mini:acme::x1 = 0.3 1.2  # tuned"]
    )
    assert prices == {"gpt-4o-mini": (0.15, 0.60), "ft:gpt-4o-mini:acme::x1": (0.3, 1.2)}
    record = {
        "model": "gpt-4o-mini",
        "sample_outcomes": ["pass", "pass"],
        "prompt_tokens": [1_000_000, 1_000_000],
        "completion_tokens": [500_000, 0],
    }
    unanswered = {"model": "gpt-4o-mini", "sample_outcomes": ["error"]}
    assert math.isclose(records_cost([record, unanswered], prices), 0.15 * 2 + 0.60 * 0.5)
    assert records_cost([{**record, "model": "other"}], prices) is None  # no price: unknown
    assert records_cost([{"model": "gpt-4o-mini", "sample_outcomes": ["pass"]}], prices) is None
    assert format_cost(0.6) == "$0.60" and format_cost(0.00042) == "$0.0004"
    assert format_cost(None) == "-"
    for bad in ("gpt-4o 0.15 0.6", "m = 0.1", "m = a b", "m = -1 2"):
        with pytest.raises(PriceError, match="toolcall_prices"):
            parse_prices([bad])
