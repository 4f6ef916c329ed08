"""A score's range at a level: the score plus and minus the level's half-width,
clipped to the target's bounds, in hundredths as the score is.

The ends are taken from the score as answered (already in hundredths), so a range is
symmetric about the score shown, up to the clip, and a score's range is the same
however it is computed: alone, in a cohort, or in a cohort's pre-rendered answer
texts (server/json_output.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from server.batch import FEW_STUDENTS


def interval_ends(
    scores: Sequence[float] | np.ndarray, half_width: float, low: float, high: float
) -> tuple[Sequence[float], Sequence[float]]:
    """(lower ends, upper ends) of the scores' ranges: lists for a few scores, in
    plain Python as `hundredths` rounds them (numpy's per-call cost would be most of
    the work), else arrays. Both round as np.round does: x100, to even, /100."""
    if len(scores) <= FEW_STUDENTS:
        lower = [round(min(max(s - half_width, low), high) * 100) / 100 for s in scores]
        upper = [round(min(max(s + half_width, low), high) * 100) / 100 for s in scores]
        return lower, upper
    values = np.asarray(scores, dtype=np.float64)
    return (
        np.round(np.clip(values - half_width, low, high), 2),
        np.round(np.clip(values + half_width, low, high), 2),
    )
