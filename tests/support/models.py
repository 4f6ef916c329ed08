"""The committed model, the example student, and a temporary store to serve them from."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks.students import EXAMPLE
from model_store.store import DEFAULT_ROOT, ModelStore

REPO = Path(__file__).resolve().parents[2]

STUDENT = EXAMPLE  # the example student of the API's documentation


def copy_committed_store(destination: Path) -> ModelStore:
    """The committed store's current version, as a fresh store of its own."""
    source = ModelStore(DEFAULT_ROOT)
    version = source.current_version()
    shutil.copytree(DEFAULT_ROOT / "versions" / version, destination / "versions" / version)
    (destination / "CURRENT").write_text(version + "\n")
    return ModelStore(destination)
