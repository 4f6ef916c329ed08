"""Fixtures for the server's tests. They run in the serving environment
(requirements.txt + pytest): no scikit-learn, so the model they serve is the
committed one, a real trained model, copied into a temporary store."""

from __future__ import annotations

import falcon.testing
import pytest

from server.app import create_app
from server.config import Settings
from server.model import load_verified_model
from tests.support.fixtures import start_server, store  # noqa: F401 (fixtures)

# Still imported from here by suites not yet moved to tests.support.
from tests.support.models import REPO, STUDENT, copy_committed_store  # noqa: F401
from tests.support.servers import free_port  # noqa: F401
from tests.support.servers import start as RunningServer  # noqa: F401, N812


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    copied = copy_committed_store(tmp_path_factory.mktemp("store"))
    return load_verified_model(copied, None, threads=1)


def make_client(model, **limits) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(model, Settings(**limits)))


@pytest.fixture
def client(model) -> falcon.testing.TestClient:
    return make_client(model)
