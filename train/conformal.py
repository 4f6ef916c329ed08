"""Prediction intervals by split-conformal calibration on out-of-fold residuals.

Each training row is predicted by the chosen pipeline refitted without its fold (the folds
of selection), so the absolute residuals are honest estimates of the error on new students.
The half-width at level L is the ceil((n + 1)·L)-th smallest of the n residuals: with
exchangeable students, [score − w, score + w] then covers at least L of new ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from train.columns import FEATURES, SCORE_MAX, SCORE_MIN, TARGET
from train.select import TRAINING_THREADS

LEVELS = (80, 90, 95)  # percent
METHOD = "split-conformal: absolute out-of-fold residuals on the training split"
# Publishing is refused when holdout coverage falls this many binomial standard errors short.
TOLERANCE_STANDARD_ERRORS = 3


def out_of_fold_predictions(
    pipeline: Pipeline,
    train: pd.DataFrame,
    seed: int,
    folds: int,
    features: Sequence[str] = FEATURES,
) -> np.ndarray:
    """Each training row's score from the pipeline fitted on the other folds, clipped as served."""
    # The same KFold as selection (train/select.py), so no row is scored by a model that saw it.
    with threadpool_limits(limits=TRAINING_THREADS):
        predicted = cross_val_predict(
            clone(pipeline),
            train[list(features)],
            train[TARGET],
            cv=KFold(folds, shuffle=True, random_state=seed),
            n_jobs=1,
        )
    return np.clip(predicted, SCORE_MIN, SCORE_MAX)


def conformal_half_width(residuals: np.ndarray, level: int) -> float:
    """The finite-sample corrected quantile of absolute residuals for `level` percent."""
    rows = len(residuals)
    rank = -(-(rows + 1) * level // 100)  # ceil((n + 1)·L) in integers, free of rounding
    if rank > rows:
        raise ValueError(
            f"{rows} out-of-fold residuals cannot calibrate a {level}% interval; "
            f"it needs at least {math.ceil(100 / (100 - level)) - 1}"
        )
    return float(np.sort(np.abs(residuals))[rank - 1])


def calibrate(actual: np.ndarray, predicted: np.ndarray) -> dict:
    """What a run records: the method and one half-width per level, keyed by the level."""
    residuals = np.abs(np.asarray(actual, dtype=np.float64) - predicted)
    return {
        "method": METHOD,
        "half_widths": {str(level): conformal_half_width(residuals, level) for level in LEVELS},
    }


def interval_bounds(
    scores: np.ndarray, half_width: float, minimum: float, maximum: float
) -> tuple[np.ndarray, np.ndarray]:
    """[score − w, score + w], each end clipped to the target's range."""
    return (
        np.clip(scores - half_width, minimum, maximum),
        np.clip(scores + half_width, minimum, maximum),
    )


def coverage(
    actual: np.ndarray, scores: np.ndarray, half_width: float, minimum: float, maximum: float
) -> float:
    """The share of students whose actual score lies inside their interval."""
    lower, upper = interval_bounds(scores, half_width, minimum, maximum)
    return float(np.mean((lower <= actual) & (actual <= upper)))


def coverage_tolerance(level: int, rows: int) -> float:
    """How far below `level` a holdout of `rows` students may fall by chance (a share)."""
    share = level / 100
    return TOLERANCE_STANDARD_ERRORS * math.sqrt(share * (1 - share) / rows)
