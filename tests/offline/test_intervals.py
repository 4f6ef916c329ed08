"""Calibrated intervals: computed at training, certified on the holdout at export."""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest

from export.__main__ import load_pipeline, read_split
from export.__main__ import main as export_main
from model_store.onnx_io import build_feeds, open_session, predict
from model_store.store import ModelStore
from train.columns import FEATURES, SCORE_MAX, SCORE_MIN, TARGET
from train.conformal import (
    LEVELS,
    METHOD,
    calibrate,
    conformal_half_width,
    coverage,
    coverage_tolerance,
    interval_bounds,
    out_of_fold_predictions,
)
from train.run_files import HOLDOUT_SPLIT_FILE, PIPELINE_FILE, RUN_FILE, TRAIN_SPLIT_FILE
from train.synthetic import generate

# Enough rows that calibration and the fresh holdout each add at most about one point
# of sampling error at 80 %, so ±3 points tests the method rather than luck.
CALIBRATION_ROWS = 3000
FRESH_STUDENTS = 5000
FRESH_SEED = 20261201  # not the training seed, 42
WITHIN = 0.03


@pytest.fixture(scope="module")
def calibrated_store(tiny_training, tmp_path_factory):
    work = tmp_path_factory.mktemp("calibrated")
    with contextlib.redirect_stdout(io.StringIO()):
        assert tiny_training(work / "runs", "--rows", str(CALIBRATION_ROWS), "--folds", "5") == 0
        assert export_main(["--runs-dir", str(work / "runs"), "--store", str(work / "store")]) == 0
    return ModelStore(work / "store").load()


def test_half_width_is_the_finite_sample_corrected_rank():
    residuals = np.arange(1.0, 100.0)  # 99 residuals 1..99
    # ceil(100 · 0.9) = 90th smallest; ceil(100 · 0.95) = 95th.
    assert conformal_half_width(residuals, 90) == 90.0
    assert conformal_half_width(residuals, 95) == 95.0
    assert conformal_half_width(-residuals, 80) == 80.0  # absolute values


def test_too_few_residuals_for_a_level_is_refused_saying_how_many_are_needed():
    with pytest.raises(ValueError, match="needs at least 19"):
        conformal_half_width(np.ones(10), 95)


def test_bounds_are_clipped_to_the_target_range():
    lower, upper = interval_bounds(np.array([3.0, 50.0, 97.0]), 5.0, SCORE_MIN, SCORE_MAX)
    assert lower.tolist() == [0.0, 45.0, 92.0]
    assert upper.tolist() == [8.0, 55.0, 100.0]


def test_run_half_widths_come_from_the_chosen_pipelines_out_of_fold_residuals(trained_run):
    run = json.loads((trained_run.path / RUN_FILE).read_text(encoding="utf-8"))
    train = read_split(trained_run.path / TRAIN_SPLIT_FILE)
    pipeline = load_pipeline(trained_run.path / PIPELINE_FILE)
    out_of_fold = out_of_fold_predictions(pipeline, train, run["seed"], run["folds"])
    assert run["intervals"] == calibrate(train[TARGET].to_numpy(), out_of_fold)
    widths = [run["intervals"]["half_widths"][str(level)] for level in LEVELS]
    assert widths == sorted(widths) and widths[0] > 0


def test_metadata_intervals_have_the_agreed_keys_and_holdout_figures(published, trained_run):
    intervals = published.metadata["intervals"]
    holdout = read_split(trained_run.path / HOLDOUT_SPLIT_FILE)
    levels = [str(level) for level in LEVELS]
    assert set(intervals) == {
        "method",
        "half_widths",
        "holdout_coverage",
        "holdout_rows",
        "tolerance",
        "calibration_rows",
    }
    assert intervals["method"] == METHOD
    assert list(intervals["half_widths"]) == list(intervals["holdout_coverage"]) == levels
    assert intervals["holdout_rows"] == len(holdout)
    assert intervals["calibration_rows"] == len(read_split(trained_run.path / TRAIN_SPLIT_FILE))
    for level in levels:
        share = int(level) / 100
        calibration = intervals["calibration_rows"] + 2
        expected_tolerance = 3 * math.sqrt(
            share * (1 - share) * (1 / len(holdout) + 1 / calibration)
        )
        assert intervals["tolerance"][level] == pytest.approx(expected_tolerance)
        assert intervals["holdout_coverage"][level] >= share - intervals["tolerance"][level]


def test_recorded_holdout_coverage_is_what_the_served_graph_reaches(published, trained_run):
    holdout = read_split(trained_run.path / HOLDOUT_SPLIT_FILE)
    intervals = published.metadata["intervals"]
    scores = served_scores(published, holdout)
    for level, half_width in intervals["half_widths"].items():
        measured = coverage(holdout[TARGET].to_numpy(), scores, half_width, SCORE_MIN, SCORE_MAX)
        assert intervals["holdout_coverage"][level] == measured


def served_scores(model, frame) -> np.ndarray:
    columns = {name: frame[name].tolist() for name in FEATURES}
    return predict(open_session(model.onnx_bytes), build_feeds(model.metadata, columns))


def test_coverage_on_fresh_students_is_within_three_points_of_each_level(calibrated_store):
    fresh = generate(rows=FRESH_STUDENTS, seed=FRESH_SEED)
    scores = served_scores(calibrated_store, fresh)
    target = calibrated_store.metadata["schema"]["target"]
    for level, half_width in calibrated_store.metadata["intervals"]["half_widths"].items():
        measured = coverage(
            fresh[TARGET].to_numpy(), scores, half_width, target["minimum"], target["maximum"]
        )
        assert abs(measured - int(level) / 100) <= WITHIN, (level, measured)


def copy_of_run(trained_run, folder):
    """The session's run copied into `folder`, with run.json as a dict to change."""
    run_dir = folder / trained_run.path.name
    run_dir.mkdir()
    for path in trained_run.path.iterdir():
        (run_dir / path.name).write_bytes(path.read_bytes())
    return run_dir, json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))


def test_export_refuses_intervals_too_narrow_for_the_holdout_and_publishes_nothing(
    trained_run, tmp_path, capsys
):
    run_dir, run = copy_of_run(trained_run, tmp_path)
    run["intervals"]["half_widths"] = {
        level: width / 3 for level, width in run["intervals"]["half_widths"].items()
    }
    (run_dir / RUN_FILE).write_text(json.dumps(run), encoding="utf-8")
    store = ModelStore(tmp_path / "store")

    assert export_main([str(run_dir), "--store", str(store.root)]) == 1

    error = capsys.readouterr().err
    assert "interval coverage failed: the 80% interval" in error and "not published" in error
    assert store.versions() == []


def test_export_refuses_a_run_without_intervals_saying_to_train_again(
    trained_run, tmp_path, capsys
):
    run_dir, run = copy_of_run(trained_run, tmp_path)
    del run["intervals"]
    (run_dir / RUN_FILE).write_text(json.dumps(run), encoding="utf-8")
    store = ModelStore(tmp_path / "store")

    assert export_main([str(run_dir), "--store", str(store.root)]) == 1

    assert "no calibrated intervals: train it again" in capsys.readouterr().err
    assert store.versions() == []


def test_the_tolerance_counts_the_calibration_sets_chance_too():
    # 95 % from 800 residuals, checked on 200 students: a holdout at 90.0 % is within
    # chance once the calibration quantile's own spread is counted, not before.
    assert coverage_tolerance(95, 200) < 0.05 < coverage_tolerance(95, 200, 800)
    assert coverage_tolerance(95, 200, 10**9) == pytest.approx(coverage_tolerance(95, 200))
