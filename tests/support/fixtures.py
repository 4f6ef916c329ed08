"""Fixtures more than one suite uses; a conftest imports the ones it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.launcher import Server
from model_store.store import ModelStore
from tests.support import servers
from tests.support.models import copy_committed_store


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return copy_committed_store(tmp_path / "store")


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
