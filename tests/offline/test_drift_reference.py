"""The training split's distributions recorded at publish, for the server's drift report."""

from __future__ import annotations

import numpy as np
import pytest

from export.__main__ import read_split
from export.drift_reference import score_bins
from model_store.schema import CATEGORICAL, NUMERIC
from train.columns import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from train.run_files import TRAIN_SPLIT_FILE


@pytest.fixture(scope="module")
def train_split(trained_run):
    return read_split(trained_run.path / TRAIN_SPLIT_FILE)


def test_drift_reference_covers_every_served_feature_over_the_training_rows(published, train_split):
    drift = published.metadata["drift_reference"]
    assert drift["rows"] == len(train_split)
    assert set(drift["fields"]) == set(FEATURES)


@pytest.mark.parametrize("name", CATEGORICAL_FEATURES)
def test_categorical_shares_are_the_training_splits(published, train_split, name):
    field = published.metadata["drift_reference"]["fields"][name]
    categories = next(f for f in published.metadata["schema"]["features"] if f["name"] == name)
    assert field["kind"] == CATEGORICAL
    assert set(field["shares"]) == set(categories["categories"])
    expected = train_split[name].value_counts(normalize=True)
    for value, share in field["shares"].items():
        assert share == pytest.approx(expected[value])


@pytest.mark.parametrize("name", NUMERIC_FEATURES)
def test_score_bins_are_training_deciles_with_their_shares(published, train_split, name):
    field = published.metadata["drift_reference"]["fields"][name]
    edges, shares = np.array(field["edges"]), np.array(field["shares"])
    assert field["kind"] == NUMERIC
    assert len(shares) == len(edges) + 1 and (np.diff(edges) > 0).all()
    values = train_split[name].to_numpy()
    counted = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(shares))
    np.testing.assert_allclose(shares, counted / len(values))
    assert shares.sum() == pytest.approx(1.0)
    assert np.abs(shares - 0.1).max() < 0.05  # deciles: about a tenth of the students each


def test_tied_deciles_merge_into_one_edge():
    values = np.array([0.0] * 50 + list(range(1, 51)), dtype=float)
    edges, shares = score_bins(values)
    # Half the scores are 0, so the first five deciles are 0 or 0.5: two edges, not five.
    assert edges[:2] == [0.0, 0.5] and len(edges) == 6
    np.testing.assert_allclose(shares, [0.0, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
