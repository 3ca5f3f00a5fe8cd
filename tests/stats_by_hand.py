"""Confidence intervals worked out from their textbook formulas, independently of ``analysis``:
the second method the cancellation and chart tests check the program's intervals against."""

from __future__ import annotations

import math

from scipy import stats

Z = stats.norm.ppf(0.975)


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of ``k`` of ``n``."""
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def newcombe_by_hand(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """The 95 % Newcombe (hybrid score) interval of ``k1/n1 - k2/n2``."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_by_hand(k1, n1)
    l2, u2 = wilson_by_hand(k2, n2)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
