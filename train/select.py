"""Choosing the pipeline by cross-validation on the training split only."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from train.columns import CATEGORICAL_FEATURES, FEATURES, TARGET
from train.pipeline import REGRESSOR_STEP, Candidate, build_pipeline
from train.run_files import LEADERBOARD_CSV, LEADERBOARD_MD

# One thread per fit: the folds' fits are small, and OpenMP's or BLAS's worker threads spin
# waiting for cores that other processes hold (hist_gradient_boosting slowed over tenfold).
TRAINING_THREADS = 1


@dataclass(frozen=True)
class CandidateResult:
    name: str
    params: dict
    cv_r2_mean: float
    cv_r2_std: float
    cv_mae_mean: float
    seconds: float
    pipeline: Pipeline  # refitted on the whole training split with the best params

    def row(self) -> dict:
        return {
            "name": self.name,
            "cv_r2_mean": round(self.cv_r2_mean, 6),
            "cv_r2_std": round(self.cv_r2_std, 6),
            "cv_mae_mean": round(self.cv_mae_mean, 6),
            "seconds": round(self.seconds, 3),
            "params": self.params,
        }


def fit_candidate(
    candidate: Candidate,
    train: pd.DataFrame,
    seed: int,
    folds: int,
    features: Sequence[str] = FEATURES,
) -> CandidateResult:
    started = time.perf_counter()
    categorical = [name for name in CATEGORICAL_FEATURES if name in features]
    search = GridSearchCV(
        build_pipeline(candidate.regressor, candidate.scale_scores, categorical),
        {f"{REGRESSOR_STEP}__{k}": v for k, v in candidate.grid.items()},
        scoring={"r2": "r2", "mae": "neg_mean_absolute_error"},
        refit="r2",
        cv=KFold(folds, shuffle=True, random_state=seed),
        n_jobs=1,
    )
    with threadpool_limits(limits=TRAINING_THREADS):
        search.fit(train[list(features)], train[TARGET])
    best = search.best_index_
    results = search.cv_results_
    return CandidateResult(
        name=candidate.name,
        params={k.removeprefix(f"{REGRESSOR_STEP}__"): v for k, v in search.best_params_.items()},
        cv_r2_mean=float(results["mean_test_r2"][best]),
        cv_r2_std=float(results["std_test_r2"][best]),
        cv_mae_mean=float(-results["mean_test_mae"][best]),
        seconds=time.perf_counter() - started,
        pipeline=search.best_estimator_,
    )


def select_model(
    train: pd.DataFrame,
    candidates: Iterable[Candidate],
    seed: int,
    folds: int = 5,
    on_result: Callable[[CandidateResult], None] = lambda result: None,
    features: Sequence[str] = FEATURES,
) -> list[CandidateResult]:
    """Every candidate's best cross-validated result, best first (ties keep candidate order)."""
    results = []
    for candidate in candidates:
        result = fit_candidate(candidate, train, seed, folds, features)
        on_result(result)
        results.append(result)
    return sorted(results, key=lambda r: -r.cv_r2_mean)


def holdout_metrics(pipeline: Pipeline, holdout: pd.DataFrame) -> dict:
    """The one look at the holdout, for the chosen pipeline only."""
    with threadpool_limits(limits=TRAINING_THREADS):
        predicted = pipeline.predict(holdout[list(pipeline.feature_names_in_)])
    actual = holdout[TARGET].to_numpy()
    return {
        "holdout_r2": float(r2_score(actual, predicted)),
        "holdout_mae": float(mean_absolute_error(actual, predicted)),
        "holdout_rmse": float(np.sqrt(mean_squared_error(actual, predicted))),
    }


def write_leaderboard(results: list[CandidateResult], folder: Path) -> None:
    rows = [r.row() for r in results]
    with open(folder / LEADERBOARD_CSV, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "| rank | candidate | CV R² (mean ± sd) | CV MAE | seconds | best parameters |",
        "|---:|---|---|---:|---:|---|",
    ]
    for rank, r in enumerate(results, 1):
        params = ", ".join(f"{k}={v}" for k, v in r.params.items()) or "—"
        lines.append(
            f"| {rank} | {r.name} | {r.cv_r2_mean:.4f} ± {r.cv_r2_std:.4f} | "
            f"{r.cv_mae_mean:.3f} | {r.seconds:.1f} | {params} |"
        )
    (folder / LEADERBOARD_MD).write_text("\n".join(lines) + "\n", encoding="utf-8")
