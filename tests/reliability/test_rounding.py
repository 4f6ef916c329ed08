"""A student's score and range are the same alone as in a cohort: a few scores are
rounded in Python, more in numpy, and both must give the same hundredths for every
float32 (and the ends of every range)."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from server.batch import FEW_STUDENTS
from server.intervals import interval_ends
from server.model import hundredths

SCORES = st.floats(-1e6, 1e6, width=32, allow_nan=False)


@given(st.lists(SCORES, min_size=1, max_size=FEW_STUDENTS))
@example([0.125, 0.375, 2.675, 1.005, -0.125, 65.17, 0.0, -0.0, 100.0])
def test_a_few_scores_round_as_a_cohort_does(scores: list[float]) -> None:
    few = np.asarray(scores, dtype=np.float32).astype(np.float64)[:FEW_STUDENTS]
    cohort = np.concatenate([few, np.zeros(FEW_STUDENTS + 1)])  # long enough for numpy
    (alone, _), (together, cents) = hundredths(few), hundredths(cohort)
    assert alone == together[: len(few)]
    assert (cents / 100).tolist() == together  # the counts of hundredths the JSON table reads


@given(st.lists(st.floats(0, 100), min_size=1, max_size=FEW_STUDENTS), st.floats(0, 60))
@example([0.0, 0.01, 99.99, 100.0, 50.0, 2.675], 2.675)
def test_a_few_ranges_end_where_a_cohorts_do(scores: list[float], half_width: float) -> None:
    few = hundredths(np.asarray(scores))[0]
    cohort = np.concatenate([few, np.zeros(FEW_STUDENTS + 1)])
    for alone, together in zip(
        interval_ends(few, half_width, 0.0, 100.0),
        interval_ends(cohort, half_width, 0.0, 100.0),
        strict=True,
    ):
        assert alone == together[: len(few)].tolist()
