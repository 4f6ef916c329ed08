"""A version trained without gender and race by the real CLIs, for the tests that serve it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from model_store.store import ModelStore
from tests.support.models import REPO

EXCLUDED = ("race_ethnicity", "gender")
# The tiny settings of the offline suite: a run of a few seconds.
TRAINING = ("--candidates", "ridge", "--rows", "400", "--folds", "3")


def run(*command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"python -m {' '.join(command)}:\n{result.stderr[-3000:]}"


def publish_excluded(work: Path) -> ModelStore:
    """`python -m train --exclude-features race_ethnicity,gender`, then `python -m export`."""
    runs, root = work / "runs", work / "store"
    run("train", "--exclude-features", ",".join(EXCLUDED), *TRAINING, "--runs-dir", str(runs))
    run("export", "--runs-dir", str(runs), "--store", str(root))
    return ModelStore(root)
