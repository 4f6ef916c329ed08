"""python -m export: the parity gate, and what a published version's metadata records."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

import onnx
import pytest

from export.__main__ import load_pipeline
from export.__main__ import main as export_main
from export.convert import to_onnx_bytes
from export.metadata import input_schema
from export.parity import ParityError, certify, measure_parity
from model_store.onnx_io import PARITY_TOLERANCE
from model_store.schema import CATEGORICAL, NUMERIC
from model_store.store import ModelStore
from tests.support.models import REPO
from train.columns import CATEGORICAL_FEATURES, FEATURES, SCORE_MAX, SCORE_MIN, TARGET
from train.pipeline import (
    CATEGORIES_TRANSFORMER,
    PREPROCESS_STEP,
    build_pipeline,
    candidates,
)
from train.run_files import PIPELINE_FILE, RUN_FILE
from train.synthetic import generate, write_csv

SHIFT = 0.5  # math points added to the graph's intercept


def run_json(trained_run) -> dict:
    return json.loads((trained_run.path / RUN_FILE).read_text(encoding="utf-8"))


def test_altered_graph_fails_parity_naming_the_difference_and_tolerance(altered_graph):
    sample = generate(rows=200, seed=1)
    ridge = next(c for c in candidates(42) if c.name == "ridge")
    pipeline = build_pipeline(ridge.regressor).fit(sample[list(FEATURES)], sample[TARGET])
    altered = altered_graph(to_onnx_bytes(pipeline), SHIFT)
    report = measure_parity(pipeline, altered, {"schema": input_schema(pipeline)}, sample)
    with pytest.raises(ParityError) as raised:
        certify(report)
    message = str(raised.value)
    found = re.search(r"max \|onnx - scikit-learn\| = ([\d.e+-]+)", message)
    assert found and float(found.group(1)) == pytest.approx(SHIFT, abs=1e-3)
    assert f"tolerance {PARITY_TOLERANCE}" in message


def test_export_refuses_k_nearest_neighbours_and_publishes_nothing(tiny_training, tmp_path, capsys):
    runs, store = tmp_path / "runs", ModelStore(tmp_path / "store")
    assert tiny_training(runs, "--candidates", "k_nearest_neighbours") == 0
    assert export_main(["--runs-dir", str(runs), "--store", str(store.root)]) == 1
    assert "ONNX parity failed" in capsys.readouterr().err
    assert store.versions() == []


def test_metadata_records_version_id_and_creation_time(published):
    metadata = published.metadata
    created = datetime.strptime(metadata["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert metadata["version"] == published.version
    assert timedelta(0) <= datetime.now(UTC) - created < timedelta(hours=1)


def test_metadata_schema_describes_every_feature_and_the_target(published):
    schema = published.metadata["schema"]
    assert [f["name"] for f in schema["features"]] == list(FEATURES)
    for feature in schema["features"]:
        if feature["name"] in CATEGORICAL_FEATURES:
            assert feature["kind"] == CATEGORICAL and feature["categories"]
        else:
            assert feature["kind"] == NUMERIC
            assert (feature["minimum"], feature["maximum"]) == (SCORE_MIN, SCORE_MAX)
    assert schema["target"] == {"name": TARGET, "minimum": SCORE_MIN, "maximum": SCORE_MAX}


def test_metadata_categories_are_the_fitted_encoders(published, trained_run):
    pipeline = load_pipeline(trained_run.path / PIPELINE_FILE)
    encoder = pipeline.named_steps[PREPROCESS_STEP].named_transformers_[CATEGORIES_TRANSFORMER]
    fitted = {
        name: list(c) for name, c in zip(CATEGORICAL_FEATURES, encoder.categories_, strict=True)
    }
    recorded = {
        f["name"]: f["categories"]
        for f in published.metadata["schema"]["features"]
        if f["kind"] == CATEGORICAL
    }
    assert recorded == fitted


def test_metadata_records_estimator_metrics_and_leaderboard_of_the_run(published, trained_run):
    run = run_json(trained_run)
    metadata = published.metadata
    assert metadata["estimator"] == run["estimator"]
    assert set(metadata["estimator"]) == {"name", "class", "params"}
    assert set(metadata["metrics"]) >= {"cv_r2_mean", "cv_r2_std", "holdout_r2", "holdout_mae"}
    assert metadata["metrics"] == run["metrics"]
    assert metadata["leaderboard"] == run["leaderboard"]


def test_metadata_records_parity_over_every_training_and_holdout_row(published):
    parity = published.metadata["parity"]
    assert parity["rows_checked"] == published.metadata["training_data"]["rows"]
    assert 0 <= parity["max_abs_diff"] <= parity["tolerance"] == PARITY_TOLERANCE


def test_metadata_records_the_models_sha256(published):
    assert published.metadata["model_sha256"] == hashlib.sha256(published.onnx_bytes).hexdigest()


def test_metadata_records_the_training_files_sha256_and_rows(published, trained_run, tmp_path):
    sample = write_csv(tmp_path / "sample.csv", rows=trained_run.rows, seed=42)
    data = published.metadata["training_data"]
    assert data["sha256"] == hashlib.sha256(sample.read_bytes()).hexdigest()
    assert data["rows"] == trained_run.rows


@pytest.mark.parametrize("library", ["scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy"])
def test_metadata_records_library_versions(published, library):
    assert published.metadata["libraries"][library] == version(library)


def test_metadata_records_the_onnx_opset(published):
    imported = onnx.load_from_string(published.onnx_bytes).opset_import
    default_domain = {o.domain: o.version for o in imported}[""]
    assert published.metadata["onnx"]["opset"][""] == default_domain


def test_metadata_opset_is_what_the_model_imports(published):
    imported = onnx.load_from_string(published.onnx_bytes).opset_import
    assert published.metadata["onnx"]["opset"] == {o.domain: o.version for o in imported}


CONVERT = """
import hashlib, sys
from pathlib import Path
from export.__main__ import load_pipeline
from export.convert import to_onnx_bytes
print(hashlib.sha256(to_onnx_bytes(load_pipeline(Path(sys.argv[1])))).hexdigest())
"""


def test_same_pipeline_converts_to_the_same_bytes_in_every_process(trained_run):
    pipeline_file = str(trained_run.path / PIPELINE_FILE)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CONVERT, pipeline_file],
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in ("0", "1")
    ]
    digests = {process.communicate(timeout=120)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    assert len(digests) == 1
