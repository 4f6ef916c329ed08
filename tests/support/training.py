"""Small real training for the offline tests: a tiny run (two candidates, 400 synthetic
rows, 3 folds: a couple of seconds) and ways to alter a published model's files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import helper

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
