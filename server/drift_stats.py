"""The statistics of a drift verdict: PSI, a chi-square homogeneity test, Holm's correction.

Plain numpy and `math`: the serving set has no scipy (tests/offline/test_drift_stats.py
checks these p-values against scipy's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MIN_EXPECTED = 5.0  # students expected per cell, for the chi-square approximation to hold
SMOOTHING = 5e-5  # an empty cell counts as half a student in ten thousand


def psi(reference: np.ndarray, cohort: np.ndarray) -> float:
    """Population stability index between two share vectors (the symmetrised KL divergence)."""
    p = (reference + SMOOTHING) / (1 + SMOOTHING * len(reference))
    q = (cohort + SMOOTHING) / (1 + SMOOTHING * len(cohort))
    return float(((q - p) * np.log(q / p)).sum())


def psi_terms(reference: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """Each cell's part of the PSI (unnormalised smoothing: for ranking cells only)."""
    p = reference + SMOOTHING
    q = cohort + SMOOTHING
    return (q - p) * np.log(q / p)


def merge_cells(shares: np.ndarray, students: int, *, ordered: bool) -> list[list[int]]:
    """Cells grouped so that each group expects MIN_EXPECTED of `students`.

    Ordered cells (score bins) merge with their neighbours; unordered ones
    (categories) from the commonest down. The grouping depends on the reference
    and the cohort's size only, never on its counts.
    """
    order = range(len(shares)) if ordered else np.argsort(-shares)
    groups: list[list[int]] = []
    current: list[int] = []
    expected = 0.0
    for cell in order:
        current.append(int(cell))
        expected += shares[cell] * students
        if expected >= MIN_EXPECTED:
            groups.append(current)
            current, expected = [], 0.0
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def homogeneity_statistic(trained: np.ndarray, seen: np.ndarray) -> tuple[float, int]:
    """Pearson's chi-square of the 2 x k table (training counts, cohort counts).

    Returns the statistic and the number of cells with any students.
    """
    keep = (trained + seen) > 0
    trained, seen = trained[keep], seen[keep]
    column = trained + seen
    total = column.sum()
    statistic = 0.0
    for row in (trained, seen):
        expected = column * (row.sum() / total)
        statistic += float(((row - expected) ** 2 / expected).sum())
    return statistic, int(keep.sum())


def chi2_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X chi-square with `df` degrees of freedom."""
    if statistic <= 0:
        return 1.0
    return upper_gamma_regularised(df / 2.0, statistic / 2.0)


def upper_gamma_regularised(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): a series below a + 1, a continued fraction above.

    Numerical Recipes' gammq: either converges to double precision within a few
    hundred terms for the a (at most a few dozen) and x met here.
    """
    if x <= 0:
        return 1.0
    log_prefactor = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        denominator = a
        for _ in range(10_000):
            denominator += 1
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefactor))
    # Modified Lentz's method for the continued fraction of Gamma(a, x).
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return min(1.0, math.exp(log_prefactor) * h)


def holm(p_values: Sequence[float | None], rate: float) -> list[bool]:
    """Which p-values Holm's step-down procedure rejects at family-wise `rate`
    (None: not tested, never rejected)."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    rejected = [False] * len(p_values)
    for rank, (p, index) in enumerate(tested):
        if p > rate / (len(tested) - rank):
            break
        rejected[index] = True
    return rejected
