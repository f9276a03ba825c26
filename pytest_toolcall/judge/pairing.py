"""Optimal pairing of expected and actual calls (or list items): the Hungarian algorithm."""

from __future__ import annotations

import math
from collections.abc import Sequence


def best_pairs(weights: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """(row, column) pairs, each row and column at most once, with the largest total weight.

    Hungarian algorithm, O(rows² · columns); every row of the shorter side gets a partner.
    """
    rows, cols = len(weights), len(weights[0]) if weights else 0
    if not rows or not cols:
        return []
    if rows > cols:
        return [(row, col) for col, row in best_pairs(list(zip(*weights, strict=True)))]
    # Minimise -weight with potentials u (rows) and v (columns); indexes 1-based, 0 = none.
    u, v = [0.0] * (rows + 1), [0.0] * (cols + 1)
    row_of, way = [0] * (cols + 1), [0] * (cols + 1)
    for row in range(1, rows + 1):
        row_of[0], col = row, 0
        slack, used = [math.inf] * (cols + 1), [False] * (cols + 1)
        while row_of[col]:
            used[col], current, delta, next_col = True, row_of[col], math.inf, 0
            for j in range(1, cols + 1):
                if not used[j]:
                    reduced = -weights[current - 1][j - 1] - u[current] - v[j]
                    if reduced < slack[j]:
                        slack[j], way[j] = reduced, col
                    if slack[j] < delta:
                        delta, next_col = slack[j], j
            for j in range(cols + 1):
                if used[j]:
                    u[row_of[j]] += delta
                    v[j] -= delta
                else:
                    slack[j] -= delta
            col = next_col
        while col:
            row_of[col] = row_of[way[col]]
            col = way[col]
    return [(row_of[j] - 1, j - 1) for j in range(1, cols + 1) if row_of[j]]
