"""A student's score is the same alone as in a cohort: a few scores are rounded in
Python, more in numpy, and both must give the same hundredths for every float32."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from server.batch import FEW_STUDENTS
from server.model import hundredths

SCORES = st.floats(-1e6, 1e6, width=32, allow_nan=False)


@given(st.lists(SCORES, min_size=1, max_size=FEW_STUDENTS))
@example([0.125, 0.375, 2.675, 1.005, -0.125, 65.17, 0.0, -0.0, 100.0])
def test_a_few_scores_round_as_a_cohort_does(scores: list[float]) -> None:
    few = np.asarray(scores, dtype=np.float32).astype(np.float64)[:FEW_STUDENTS]
    cohort = np.concatenate([few, np.zeros(FEW_STUDENTS + 1)])  # long enough for numpy
    assert hundredths(few) == hundredths(cohort)[: len(few)]
