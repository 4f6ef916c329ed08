"""Shared, session-scoped real things: one tiny training run and its published model.

Training is the slow part of the offline suite, so it happens once (tests/support/training.py
has the settings). Tests that change a store publish these bytes into their own `tmp_path`
store; the session store is only read.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from export.__main__ import latest_run
from export.__main__ import main as export_main
from model_store.store import ModelStore, StoredModel
from tests.support.training import TrainedRun, flip_a_byte, shift_intercept, train_tiny


@pytest.fixture(scope="session")
def tiny_training() -> Callable[..., int]:
    """train_tiny(runs_dir, *extra_args) -> exit code, for tests that train their own run."""
    return train_tiny


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> TrainedRun:
    runs_dir = tmp_path_factory.mktemp("runs")
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        assert train_tiny(runs_dir) == 0
    return TrainedRun(path=latest_run(runs_dir), stdout=stdout.getvalue())


@pytest.fixture(scope="session")
def published(trained_run, tmp_path_factory) -> StoredModel:
    """The tiny run exported by `python -m export` into its own store: read it, never change it."""
    root = tmp_path_factory.mktemp("store")
    with contextlib.redirect_stdout(io.StringIO()):
        assert export_main([str(trained_run.path), "--store", str(root)]) == 0
    return ModelStore(root).load()


@pytest.fixture(scope="session")
def altered_graph() -> Callable[[bytes, float], bytes]:
    """altered_graph(onnx_bytes, shift): a linear model's graph with its intercept shifted."""
    return shift_intercept


@pytest.fixture(scope="session")
def corrupt() -> Callable[[Path], None]:
    """corrupt(path): flip one byte of a file in place."""
    return flip_a_byte
