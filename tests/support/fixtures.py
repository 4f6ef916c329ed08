"""Fixtures more than one suite uses; a conftest imports the ones it needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest

from benchmarks.launcher import Server
from model_store.store import ModelStore
from server.model import ServedModel, load_verified_model
from tests.support import servers
from tests.support.clients import make_client
from tests.support.excluded import publish_excluded
from tests.support.models import copy_committed_store, publish_without_options


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return copy_committed_store(tmp_path / "store")


@pytest.fixture(scope="session")
def model(tmp_path_factory) -> ServedModel:
    """The committed model (it carries intervals and a reference student)."""
    copied = copy_committed_store(tmp_path_factory.mktemp("store"))
    return load_verified_model(copied, None, threads=1)


@pytest.fixture(scope="session")
def bare_model(tmp_path_factory) -> ServedModel:
    """The committed model without intervals or a reference student."""
    published = publish_without_options(tmp_path_factory.mktemp("bare"))
    return load_verified_model(published, None, threads=1)


@pytest.fixture
def client(model: ServedModel) -> falcon.testing.TestClient:
    return make_client(model)


@pytest.fixture
def start_server(tmp_path: Path):
    """start(store_dir, wait=True, **env): the Procfile's server; all stopped at teardown."""
    started: list[Server] = []

    def start(store_dir: Path, wait: bool = True, **env: str) -> Server:
        server = servers.start(store_dir, tmp_path / f"server-{len(started)}.log", **env)
        started.append(server)
        if wait:
            server.wait_ready(timeout=30)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def excluded_server(tmp_path_factory) -> Iterator[Server]:
    """The Procfile's server on a version trained without gender and race, trained once
    for the API's and the page's tests, which only read it."""
    store = publish_excluded(tmp_path_factory.mktemp("excluded"))
    running = servers.start(store.root, tmp_path_factory.mktemp("log") / "server.log")
    try:
        running.wait_ready(timeout=60)
        yield running
    finally:
        running.stop()
