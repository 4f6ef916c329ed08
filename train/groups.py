"""Whom the model fails: its error for each group of students, on the holdout and out of fold.

For every value of every categorical field (those a model was trained without included: how
it does for each race group matters most when it never saw race) and for bands of the actual
math score: how many students, the mean absolute error, and the bias (mean of prediction -
actual: positive when the model over-predicts that group).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from train.columns import CATEGORICAL_FEATURES, SCORE_MAX, SCORE_MIN, TARGET
from train.select import TRAINING_THREADS

SCORE_BAND_FIELD = "math_score_band"
# (label, lowest score in the band); each band runs up to the next one's lowest score.
SCORE_BANDS = (("0-39", 0), ("40-59", 40), ("60-79", 60), ("80-100", 80))


def score_band(scores: pd.Series) -> pd.Series:
    """The band label of each actual math score."""
    labels = [label for label, _ in SCORE_BANDS]
    edges = [low for _, low in SCORE_BANDS[1:]]
    return pd.Series(np.array(labels)[np.searchsorted(edges, scores, side="right")], scores.index)


def error_table(frame: pd.DataFrame, predicted: np.ndarray) -> dict:
    """{field: {value: {"count", "mae", "bias"}}} for each categorical field and the bands.

    Values with no student in `frame` are left out (a holdout can miss a rare category).
    """
    errors = pd.Series(np.asarray(predicted, dtype=np.float64), frame.index) - frame[TARGET]
    fields = {name: frame[name] for name in CATEGORICAL_FEATURES}
    fields[SCORE_BAND_FIELD] = score_band(frame[TARGET])
    table: dict[str, dict] = {}
    for field, values in fields.items():
        table[field] = {
            str(value): {
                "count": int(len(group)),
                "mae": round(float(group.abs().mean()), 6),
                "bias": round(float(group.mean()), 6),
            }
            for value, group in errors.groupby(values, sort=True)
        }
    return table


def group_errors(
    pipeline: Pipeline,
    holdout: pd.DataFrame,
    features: list[str],
    train: pd.DataFrame,
    out_of_fold: np.ndarray,
) -> dict:
    """The metadata's `group_errors`: the error tables on the holdout and out of fold, of
    the scores as served (clipped to the target's range)."""
    with threadpool_limits(limits=TRAINING_THREADS):
        on_holdout = pipeline.predict(holdout[features])
    return {
        "holdout": error_table(holdout, np.clip(on_holdout, SCORE_MIN, SCORE_MAX)),
        "out_of_fold": error_table(train, out_of_fold),
    }
