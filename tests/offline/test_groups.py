"""Per-group error: counts, MAE and bias per category and score band, holdout and out of fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold

from export.__main__ import load_pipeline, read_split
from train.columns import CATEGORICAL_FEATURES, FEATURES, TARGET
from train.conformal import out_of_fold_predictions
from train.groups import SCORE_BAND_FIELD, error_table, score_band
from train.run_files import HOLDOUT_SPLIT_FILE, PIPELINE_FILE, TRAIN_SPLIT_FILE
from train.synthetic import generate


def test_score_bands_include_their_edges():
    bands = score_band(pd.Series([0.0, 39.0, 40.0, 59.0, 60.0, 79.0, 80.0, 100.0]))
    assert list(bands) == ["0-39", "0-39", "40-59", "40-59", "60-79", "60-79", "80-100", "80-100"]


def test_error_table_matches_a_hand_computation():
    frame = generate(rows=4, seed=0)
    frame["gender"] = ["female", "female", "male", "male"]
    frame[TARGET] = [30, 50, 70, 90]
    table = error_table(frame, np.array([32.0, 47.0, 70.0, 95.0]))
    # female: errors +2, -3; male: 0, +5.
    assert table["gender"] == {
        "female": {"count": 2, "mae": 2.5, "bias": -0.5},
        "male": {"count": 2, "mae": 2.5, "bias": 2.5},
    }
    assert table[SCORE_BAND_FIELD]["0-39"] == {"count": 1, "mae": 2.0, "bias": 2.0}
    assert table[SCORE_BAND_FIELD]["80-100"] == {"count": 1, "mae": 5.0, "bias": 5.0}
    assert set(table) == {*CATEGORICAL_FEATURES, SCORE_BAND_FIELD}


def test_every_field_counts_every_holdout_and_training_student_once(published, trained_run):
    errors = published.metadata["group_errors"]
    holdout = read_split(trained_run.path / HOLDOUT_SPLIT_FILE)
    train = read_split(trained_run.path / TRAIN_SPLIT_FILE)
    for split, frame in (("holdout", holdout), ("out_of_fold", train)):
        for field, values in errors[split].items():
            assert sum(v["count"] for v in values.values()) == len(frame), (split, field)
        for field in CATEGORICAL_FEATURES:
            assert set(errors[split][field]) == set(frame[field]), (split, field)


def test_holdout_errors_are_the_published_pipelines(published, trained_run):
    holdout = read_split(trained_run.path / HOLDOUT_SPLIT_FILE)
    pipeline = load_pipeline(trained_run.path / PIPELINE_FILE)
    error = pipeline.predict(holdout[list(FEATURES)]) - holdout[TARGET]
    for value, row in published.metadata["group_errors"]["holdout"]["lunch"].items():
        chosen = (holdout["lunch"] == value).to_numpy()
        assert row["count"] == chosen.sum()
        assert row["mae"] == pytest.approx(np.abs(error[chosen]).mean(), abs=1e-6)
        assert row["bias"] == pytest.approx(error[chosen].mean(), abs=1e-6)


def test_out_of_fold_predictions_come_from_models_that_never_saw_the_row(trained_run):
    train = read_split(trained_run.path / TRAIN_SPLIT_FILE)
    pipeline = load_pipeline(trained_run.path / PIPELINE_FILE)
    predicted = out_of_fold_predictions(pipeline, train, seed=42, folds=3)
    # The fold holding row 0, redone by hand: fitted on every row outside it.
    for fit_rows, test_rows in KFold(3, shuffle=True, random_state=42).split(train):
        if 0 in test_rows:
            refit = clone(pipeline).fit(
                train.iloc[fit_rows][list(FEATURES)], train.iloc[fit_rows][TARGET]
            )
            expected = np.clip(refit.predict(train.iloc[test_rows][list(FEATURES)]), 0, 100)
            np.testing.assert_allclose(predicted[test_rows], expected)
    assert not np.allclose(predicted, pipeline.predict(train[list(FEATURES)]))
