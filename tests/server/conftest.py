"""Fixtures for the server's tests. They run in the serving environment
(requirements.txt + pytest): no scikit-learn, so the model they serve is the
committed one, a real trained model, copied into a temporary store."""

from __future__ import annotations

from pathlib import Path

import falcon.testing
import pytest

from model_store.onnx_io import build_feeds, open_session, predict
from model_store.store import DEFAULT_ROOT, ModelStore
from server.app import create_app
from server.config import Settings
from server.model import load_verified_model
from tests.support.fixtures import start_server, store  # noqa: F401 (fixtures)

# Still imported from here by suites not yet moved to tests.support.
from tests.support.models import REPO, STUDENT, copy_committed_store  # noqa: F401
from tests.support.servers import free_port  # noqa: F401
from tests.support.servers import start as RunningServer  # noqa: F401, N812

# Intervals and a reference student as the export writes them (see
# /work/helpers/COMMON.md's metadata format), for the committed model, which predates them.
TEST_INTERVALS = {
    "method": "split-conformal: absolute out-of-fold residuals on the training split",
    "half_widths": {"80": 6.9, "90": 8.8, "95": 10.4},
    "holdout_coverage": {"80": 0.8, "90": 0.9, "95": 0.95},
    "holdout_rows": 200,
    "tolerance": {"80": 0.05, "90": 0.04, "95": 0.03},
}
STORE_KEYS = ("version", "created_at", "model_sha256", "model_file", "format_version")


def publish_with_options(root: Path) -> ModelStore:
    """The committed model published, through the store's own API, into a fresh store
    with `intervals` and `reference` in its metadata."""
    stored = ModelStore(DEFAULT_ROOT).load()
    metadata = {k: v for k, v in stored.metadata.items() if k not in STORE_KEYS}
    student = {
        "gender": "female", "race_ethnicity": "group C",
        "parental_level_of_education": "some college", "lunch": "standard",
        "test_preparation_course": "none", "reading_score": 69.2, "writing_score": 68.1,
    }  # fmt: skip
    session = open_session(stored.onnx_bytes)
    (score,) = predict(session, build_feeds(metadata, {k: [v] for k, v in student.items()}))
    metadata["intervals"] = TEST_INTERVALS
    metadata["reference"] = {"student": student, "math_score": float(score)}
    published = ModelStore(root)
    published.publish(stored.onnx_bytes, metadata)
    return published


@pytest.fixture(scope="session")
def optioned_store(tmp_path_factory) -> ModelStore:
    return publish_with_options(tmp_path_factory.mktemp("optioned"))


@pytest.fixture(scope="session")
def optioned_model(optioned_store):
    """The committed model with intervals and a reference student."""
    return load_verified_model(optioned_store, None, threads=1)


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    copied = copy_committed_store(tmp_path_factory.mktemp("store"))
    return load_verified_model(copied, None, threads=1)


def make_client(model, **limits) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(model, Settings(**limits)))


@pytest.fixture
def client(model) -> falcon.testing.TestClient:
    return make_client(model)
