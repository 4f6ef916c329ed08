"""Shared, session-scoped real things: one tiny training run and its published model.

Training is the slow part of the offline suite, so it happens once: two candidates, 400
synthetic rows, 3 folds (a couple of seconds). Tests that change a store publish these bytes
into their own `tmp_path` store; the session store is only read.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
import pytest
from onnx import helper

from export.__main__ import latest_run
from export.__main__ import main as export_main
from model_store.store import ModelStore, StoredModel
from train.__main__ import main as train_main

TINY_CANDIDATES = ("ridge", "decision_tree")
TINY_ROWS = 400
TINY_TRAINING = (
    "--candidates",
    ",".join(TINY_CANDIDATES),
    "--rows",
    str(TINY_ROWS),
    "--folds",
    "3",
)


@dataclass(frozen=True)
class TrainedRun:
    path: Path
    stdout: str
    candidates: tuple[str, ...] = TINY_CANDIDATES
    rows: int = TINY_ROWS  # of the default synthetic sample, seed 42


def train_tiny(runs_dir: Path, *extra: str) -> int:
    """`python -m train` with the tiny settings into `runs_dir`; returns the exit code."""
    return train_main([*TINY_TRAINING, "--runs-dir", str(runs_dir), *extra])


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


def shift_intercept(onnx_bytes: bytes, shift: float) -> bytes:
    """The same linear model's graph with its intercept moved by `shift` math points."""
    model = onnx.load_from_string(onnx_bytes)
    (node,) = [n for n in model.graph.node if n.op_type == "LinearRegressor"]
    (intercepts,) = [a for a in node.attribute if a.name == "intercepts"]
    node.attribute.remove(intercepts)
    node.attribute.append(
        helper.make_attribute("intercepts", [value + shift for value in intercepts.floats])
    )
    return model.SerializeToString()


def flip_a_byte(path: Path) -> None:
    """Corrupt a (read-only) file in place, as a bad disk or a stray edit would."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="session")
def altered_graph() -> Callable[[bytes, float], bytes]:
    """altered_graph(onnx_bytes, shift): a linear model's graph with its intercept shifted."""
    return shift_intercept


@pytest.fixture(scope="session")
def corrupt() -> Callable[[Path], None]:
    """corrupt(path): flip one byte of a file in place."""
    return flip_a_byte
