"""Training without some categorical fields, and what leaving them out costs.

Many school systems may not score a student by race/ethnicity or gender. A run trained with
`--exclude-features` never sees them; the cost is measured against a selection with every
feature on the same training split, judged on the same holdout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from train.columns import CATEGORICAL_FEATURES, FEATURES
from train.pipeline import Candidate
from train.select import CandidateResult, holdout_metrics, select_model


def parse_exclusions(text: str) -> tuple[str, ...]:
    """The fields named in a comma-separated list, in the data's column order."""
    named = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in named if name not in CATEGORICAL_FEATURES]
    if unknown:
        raise ValueError(
            f"cannot exclude {', '.join(map(repr, unknown))}: only the categorical fields can be "
            f"left out ({', '.join(CATEGORICAL_FEATURES)})"
        )
    return tuple(name for name in CATEGORICAL_FEATURES if name in named)


def kept_features(excluded: Sequence[str]) -> list[str]:
    return [name for name in FEATURES if name not in excluded]


def exclusion_cost(
    chosen: CandidateResult,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    pool: Sequence[Candidate],
    seed: int,
    folds: int,
    on_result: Callable[[CandidateResult], None] = lambda result: None,
) -> dict:
    """The metadata's `exclusion_cost`: holdout MAE and R² without the excluded fields (the
    chosen model) and with every feature (the same candidates selected the same way)."""
    with_all = select_model(train, pool, seed, folds, on_result=on_result, features=FEATURES)[0]
    without_metrics = holdout_metrics(chosen.pipeline, holdout)
    with_metrics = holdout_metrics(with_all.pipeline, holdout)
    return {
        "without": {
            "estimator": chosen.name,
            "holdout_mae": without_metrics["holdout_mae"],
            "holdout_r2": without_metrics["holdout_r2"],
        },
        "with_every_feature": {
            "estimator": with_all.name,
            "holdout_mae": with_metrics["holdout_mae"],
            "holdout_r2": with_metrics["holdout_r2"],
        },
        "holdout_mae_added": without_metrics["holdout_mae"] - with_metrics["holdout_mae"],
        "holdout_r2_lost": with_metrics["holdout_r2"] - without_metrics["holdout_r2"],
    }
