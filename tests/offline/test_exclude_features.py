"""Training without protected fields: the version's schema and graph lack them, it serves
without them through onnxruntime, and what leaving them out costs is recorded."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import onnx
import pytest

from export.__main__ import latest_run, load_pipeline
from export.__main__ import main as export_main
from model_store.__main__ import main as model_store_main
from model_store.diff import compare
from model_store.onnx_io import build_feeds, open_session, predict
from model_store.schema import feature_names
from model_store.store import ModelStore, StoredModel
from train.__main__ import main as train_main
from train.columns import CATEGORICAL_FEATURES, FEATURES
from train.run_files import PIPELINE_FILE, RUN_FILE
from train.synthetic import generate

EXCLUDED = ["gender", "race_ethnicity"]


@pytest.fixture(scope="module")
def without_protected(tiny_training, tmp_path_factory) -> tuple[StoredModel, ModelStore, object]:
    """The tiny training run without gender and race, published to its own store."""
    work = tmp_path_factory.mktemp("excluded")
    with contextlib.redirect_stdout(io.StringIO()):
        assert tiny_training(work / "runs", "--exclude-features", "race_ethnicity, gender") == 0
        run_dir = latest_run(work / "runs")
        assert export_main([str(run_dir), "--store", str(work / "store")]) == 0
    store = ModelStore(work / "store")
    return store.load(), store, run_dir


def test_the_schema_and_the_graph_lack_the_excluded_fields(without_protected):
    model, _, _ = without_protected
    kept = [name for name in FEATURES if name not in EXCLUDED]
    assert feature_names(model.metadata) == kept
    assert model.metadata["schema"]["input"]["columns"] == kept
    (students,) = onnx.load_from_string(model.onnx_bytes).graph.input
    assert students.type.tensor_type.shape.dim[1].dim_value == len(kept)
    assert model.metadata["excluded_features"] == EXCLUDED


def test_students_without_the_excluded_fields_score_as_scikit_learn_does(without_protected):
    model, _, run_dir = without_protected
    students = generate(rows=50, seed=11).drop(columns=EXCLUDED)
    columns = {name: students[name].tolist() for name in feature_names(model.metadata)}
    got = predict(open_session(model.onnx_bytes), build_feeds(model.metadata, columns))
    expected = load_pipeline(run_dir / PIPELINE_FILE).predict(students)
    np.testing.assert_allclose(got, expected, atol=1e-3)


def test_the_version_verifies(without_protected, capsys):
    model, store, _ = without_protected
    assert model_store_main(["--store", str(store.root), "verify"]) == 0
    assert f"{model.version}: ok" in capsys.readouterr().out


def test_the_cost_is_measured_against_every_feature_on_the_same_split(
    without_protected, trained_run
):
    model, _, _ = without_protected
    cost = model.metadata["exclusion_cost"]
    # The session run is the same training with every feature: same split, same candidates.
    every = json.loads((trained_run.path / RUN_FILE).read_text(encoding="utf-8"))["metrics"]
    assert cost["with_every_feature"]["holdout_mae"] == pytest.approx(every["holdout_mae"])
    assert cost["with_every_feature"]["holdout_r2"] == pytest.approx(every["holdout_r2"])
    assert cost["without"]["holdout_mae"] == pytest.approx(model.metadata["metrics"]["holdout_mae"])
    assert cost["holdout_mae_added"] == pytest.approx(
        cost["without"]["holdout_mae"] - cost["with_every_feature"]["holdout_mae"]
    )


def test_group_errors_still_cover_the_excluded_fields(without_protected):
    model, _, _ = without_protected
    holdout = model.metadata["group_errors"]["holdout"]
    assert set(holdout["race_ethnicity"]) == {f"group {g}" for g in "ABCDE"}
    assert set(holdout["gender"]) == {"female", "male"}


def test_a_run_with_every_feature_records_no_exclusion(published):
    assert published.metadata["excluded_features"] == []
    assert published.metadata["exclusion_cost"] is None


def test_every_categorical_field_can_be_excluded(tiny_training, tmp_path):
    runs = tmp_path / "runs"
    every = ",".join(CATEGORICAL_FEATURES)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        tiny_training(runs, "--exclude-features", every, "--min-r2", "0")
        argv = [str(latest_run(runs)), "--store", str(tmp_path / "store"), "--min-r2", "0"]
        assert export_main(argv) == 0
    model = ModelStore(tmp_path / "store").load()
    assert feature_names(model.metadata) == ["reading_score", "writing_score"]


@pytest.mark.parametrize("bad", ["reading_score", "lunchh"])
def test_only_categorical_fields_can_be_excluded(bad, tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit:
        train_main(["--exclude-features", f"gender,{bad}", "--runs-dir", str(runs)])
    message = str(exit.value.code)
    assert f"cannot exclude {bad!r}" in message
    assert all(name in message for name in CATEGORICAL_FEATURES)
    assert not runs.exists()


def test_diff_from_a_full_version_scores_the_students_both_can_score(
    without_protected, published, tmp_path
):
    excluded, _, _ = without_protected
    store = ModelStore(tmp_path / "store")
    full = store.publish(published.onnx_bytes, published.metadata)
    lean = store.publish(excluded.onnx_bytes, excluded.metadata)
    diff = compare(store, full, lean)
    # The lean version's parity students lack gender and race, which the full one needs.
    assert len(diff.cohort.records) == len(published.metadata["parity_sample"]["records"])
    assert diff.cohort.skipped == len(excluded.metadata["parity_sample"]["records"])


def test_the_card_says_what_was_left_out_and_what_it_cost(without_protected):
    model, store, _ = without_protected
    card = store.card(model.version).decode("utf-8")
    assert "Trained without <code>gender</code>, <code>race_ethnicity</code>" in card
    assert "What leaving fields out costs" in card
    assert f"{model.metadata['exclusion_cost']['with_every_feature']['holdout_mae']:.3f}" in card
