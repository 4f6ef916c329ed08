"""The committed default model is what `python -m train` then `python -m export` build.

Rebuilding takes the full default training (every candidate, seed 42, 1,000 synthetic rows,
5 folds): about half a minute, done once for this module.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from model_store.__main__ import main as model_store_main
from model_store.onnx_io import build_feeds, open_session, predict, records_to_columns
from model_store.store import DEFAULT_ROOT, ModelStore, StoredModel
from tests.support.models import REPO
from train.columns import FEATURES
from train.synthetic import generate

SAME = 1e-6  # math points


@pytest.fixture(scope="module")
def committed() -> StoredModel:
    return ModelStore(DEFAULT_ROOT).load()


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> StoredModel:
    """The default model built from scratch by the two commands, as a developer would."""
    work = tmp_path_factory.mktemp("rebuild")
    runs, store = work / "runs", work / "store"
    for command in (
        ["train", "--runs-dir", str(runs)],
        ["export", "--runs-dir", str(runs), "--store", str(store)],
    ):
        subprocess.run(
            [sys.executable, "-m", *command], cwd=REPO, check=True, capture_output=True, timeout=600
        )
    return ModelStore(store).load()


def predictions(model: StoredModel, columns: dict) -> np.ndarray:
    return predict(open_session(model.onnx_bytes), build_feeds(model.metadata, columns))


def clipped_predictions(model: StoredModel, columns: dict) -> np.ndarray:
    """What a graph clipping to the target's range answers (a no-op for a clipped graph)."""
    target = model.metadata["schema"]["target"]
    return np.clip(predictions(model, columns), target["minimum"], target["maximum"])


def test_rebuild_chooses_the_committed_estimator_and_parameters(committed, rebuilt):
    assert rebuilt.metadata["estimator"] == committed.metadata["estimator"]


def test_rebuild_trains_on_the_committed_data(committed, rebuilt):
    assert (
        rebuilt.metadata["training_data"]["sha256"] == committed.metadata["training_data"]["sha256"]
    )
    assert rebuilt.metadata["training_data"]["rows"] == committed.metadata["training_data"]["rows"]


def test_rebuild_predicts_the_committed_parity_sample_alike(committed, rebuilt):
    records = committed.metadata["parity_sample"]["records"]
    columns = records_to_columns(committed.metadata, records)
    np.testing.assert_allclose(
        predictions(rebuilt, columns), clipped_predictions(committed, columns), rtol=0, atol=SAME
    )


def test_rebuild_predicts_unseen_students_alike(committed, rebuilt):
    students = generate(rows=200, seed=2024)
    columns = {name: students[name].tolist() for name in FEATURES}
    np.testing.assert_allclose(
        predictions(rebuilt, columns), clipped_predictions(committed, columns), rtol=0, atol=SAME
    )


def test_committed_store_verifies(committed, capsys):
    assert model_store_main(["--store", str(DEFAULT_ROOT), "verify"]) == 0
    assert f"{committed.version}: ok" in capsys.readouterr().out
