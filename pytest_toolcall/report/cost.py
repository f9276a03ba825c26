"""What a run cost, from per-model prices (USD per million input and output tokens).

Prices come from the `toolcall_prices` ini option, one model a line:
`MODEL = INPUT OUTPUT` (e.g. `gpt-4o-mini = 0.15 0.60`). Recorded token counts are
replayed with the answers, so the cost of a suite is known on replay too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Prices = Mapping[str, tuple[float, float]]  # model -> (input, output) USD per million tokens
PER_TOKENS = 1_000_000


class PriceError(ValueError):
    """A `toolcall_prices` line that cannot be read, and why."""


def parse_prices(lines: Iterable[str]) -> dict[str, tuple[float, float]]:
    """`toolcall_prices` lines -> {model: (input, output)}; blank and `#` lines skipped."""
    prices: dict[str, tuple[float, float]] = {}
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        model, sep, figures = text.rpartition("=")
        numbers = figures.split()
        if not sep or not model.strip() or len(numbers) != 2:
            raise PriceError(
                f"toolcall_prices: {line.strip()!r} is not 'MODEL = INPUT OUTPUT' "
                "(USD per million input and output tokens)"
            )
        try:
            rates = float(numbers[0]), float(numbers[1])
        except ValueError:
            raise PriceError(f"toolcall_prices: {line.strip()!r}: prices must be numbers") from None
        if min(rates) < 0:
            raise PriceError(f"toolcall_prices: {line.strip()!r}: prices cannot be negative")
        prices[model.strip()] = rates
    return prices


def records_cost(records: Iterable[Mapping[str, Any]], prices: Prices) -> float | None:
    """USD for these case records, or None when a model has no price or the answers did not
    say how many input and output tokens they used."""
    total = 0.0
    for record in records:
        if all(outcome == "error" for outcome in record["sample_outcomes"]):
            continue  # nothing was answered, nothing was paid for
        rates = prices.get(record["model"])
        if rates is None or "prompt_tokens" not in record or "completion_tokens" not in record:
            return None
        total += (
            sum(record["prompt_tokens"]) * rates[0] + sum(record["completion_tokens"]) * rates[1]
        ) / PER_TOKENS
    return total


def format_cost(usd: float | None) -> str:
    if usd is None:
        return "-"
    return f"${usd:.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.4f}"
