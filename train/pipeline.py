"""The candidate pipelines: one ColumnTransformer + one regressor each, all convertible to ONNX."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sklearn.base import RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    AdaBoostRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.linear_model import Lasso, LinearRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeRegressor

from train.columns import CATEGORICAL_FEATURES, NUMERIC_FEATURES

PREPROCESS_STEP = "preprocess"
REGRESSOR_STEP = "regressor"
CATEGORIES_TRANSFORMER = "categories"
SCORES_TRANSFORMER = "scores"


@dataclass(frozen=True)
class Candidate:
    name: str
    regressor: RegressorMixin
    # Hyper-parameters of the regressor, searched by cross-validation.
    grid: dict = field(default_factory=dict)
    # Trees split on thresholds, so they gain nothing from scaling, and scaling
    # costs them parity: scikit-learn puts split thresholds exactly on observed
    # (scaled) values, and ONNX's float32 scaling rounds some of those values to
    # the other side of the split (measured: 43 of 300 rows off by up to 2.2
    # points for a random forest). Unscaled integer scores are exact in float32.
    scale_scores: bool = True


def build_pipeline(
    regressor: RegressorMixin,
    scale_scores: bool = True,
    categorical: Sequence[str] = CATEGORICAL_FEATURES,
) -> Pipeline:
    """Raw student records in (strings and scores), math score out.

    `categorical` is the categorical fields the model sees (all of them unless some are
    excluded); the scores are always used.
    """
    scores = (
        SCORES_TRANSFORMER,
        StandardScaler() if scale_scores else "passthrough",
        list(NUMERIC_FEATURES),
    )
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    # With every categorical field excluded there is nothing to encode.
    steps = [(CATEGORIES_TRANSFORMER, encoder, list(categorical))] if categorical else []
    preprocess = ColumnTransformer([*steps, scores])
    return Pipeline([(PREPROCESS_STEP, preprocess), (REGRESSOR_STEP, regressor)])


def candidates(seed: int) -> list[Candidate]:
    """Every model family we try, each with a small grid. Order breaks ties in selection."""
    return [
        Candidate("linear_regression", LinearRegression()),
        Candidate("ridge", Ridge(), {"alpha": [0.1, 1.0, 10.0]}),
        Candidate("lasso", Lasso(random_state=seed), {"alpha": [0.01, 0.1, 1.0]}),
        Candidate(
            "k_nearest_neighbours",
            KNeighborsRegressor(),
            {"n_neighbors": [5, 15, 30]},
        ),
        Candidate(
            "decision_tree",
            DecisionTreeRegressor(random_state=seed),
            {"max_depth": [4, 6, 8], "min_samples_leaf": [5, 20]},
            scale_scores=False,
        ),
        Candidate(
            "random_forest",
            RandomForestRegressor(n_estimators=100, random_state=seed),
            {"max_depth": [6, 10], "min_samples_leaf": [3, 10]},
            scale_scores=False,
        ),
        Candidate(
            "gradient_boosting",
            GradientBoostingRegressor(random_state=seed),
            {"n_estimators": [100, 200], "learning_rate": [0.05, 0.1], "max_depth": [2, 3]},
            scale_scores=False,
        ),
        Candidate(
            "hist_gradient_boosting",
            HistGradientBoostingRegressor(random_state=seed),
            {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [7, 15]},
            scale_scores=False,
        ),
        Candidate(
            "adaboost",
            AdaBoostRegressor(random_state=seed),
            {"n_estimators": [50, 100], "learning_rate": [0.1, 1.0]},
            scale_scores=False,
        ),
    ]
