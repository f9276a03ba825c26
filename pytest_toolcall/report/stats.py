"""The arithmetic behind the figures: tallies, Wilson intervals, percentiles, the paired
exact test (McNemar) and pass@k / pass^k. Pure functions, no third-party imports."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WILSON_Z_95 = 1.959964
DEFAULT_ALPHA = 0.05


def wilson_interval(passes: int, n: int, z: float = WILSON_Z_95) -> tuple[float, float] | None:
    """95% Wilson score interval of `passes` out of `n` (None when n is 0)."""
    if n <= 0:
        return None
    p = passes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Tally:
    """Passed samples out of judged samples (errors are not judged), with errors counted aside."""

    passes: int
    judged: int
    errors: int

    @property
    def accuracy(self) -> float | None:
        return self.passes / self.judged if self.judged else None

    def interval(self) -> tuple[float, float] | None:
        """95% Wilson score interval of the accuracy over the judged samples."""
        return wilson_interval(self.passes, self.judged)


def tally(records: Iterable[Mapping[str, Any]]) -> Tally:
    passes = judged = errors = 0
    for record in records:
        outcomes = record["sample_outcomes"]
        errors += outcomes.count("error")
        judged += len(outcomes) - outcomes.count("error")
        passes += outcomes.count("pass")
    return Tally(passes, judged, errors)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (`share` in 0..1)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def mcnemar_exact(fixed: int, broken: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test (p = 1/2) on the discordant pairs.

    `fixed` cases pass only in the second run, `broken` only in the first. 6 vs 2 gives
    74/256 = 0.289; 14 vs 0 gives 2/16384. Computed exactly with integers.
    """
    n = fixed + broken
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(fixed, broken) + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_test(fixed: int, broken: int, alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """JSON-ready result of the paired test between two runs of the same cases."""
    p_value = mcnemar_exact(fixed, broken)
    return {
        "net": fixed - broken,
        "fixed": fixed,
        "broken": broken,
        "p_value": p_value,
        "alpha": alpha,
        "significant": p_value < alpha,
    }


def describe_paired(test: Mapping[str, Any]) -> str:
    """`+4: 6 fixed, 2 broken, p = 0.29 (not significant at 0.05)`."""
    p_value = test["p_value"]
    shown = f"{p_value:.2g}" if p_value < 0.01 else f"{p_value:.2f}"
    verdict = "significant" if test["significant"] else "not significant"
    return (
        f"{test['net']:+d}: {test['fixed']} fixed, {test['broken']} broken, "
        f"p = {shown} ({verdict} at {test['alpha']:g})"
    )


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of k samples passes, from c passes in n samples (unbiased)."""
    if k > n or k <= 0:
        raise ValueError(f"k={k} needs 1 <= k <= n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Chance that all of k samples pass ("pass^k"), from c passes in n samples (unbiased)."""
    if k > n or k <= 0:
        raise ValueError(f"k={k} needs 1 <= k <= n={n}")
    return math.comb(c, k) / math.comb(n, k)
