"""The committed model, the example student, and temporary stores to serve them from."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks.students import EXAMPLE
from model_store.store import DEFAULT_ROOT, ModelStore

REPO = Path(__file__).resolve().parents[2]

STUDENT = EXAMPLE  # the example student of the API's documentation

# What a version needs for ?interval= and ?explain=; a model published before them lacks both.
OPTION_KEYS = ("intervals", "reference", "drift_reference")


def copy_committed_store(destination: Path) -> ModelStore:
    """The committed store's current version, as a fresh store of its own."""
    source = ModelStore(DEFAULT_ROOT)
    version = source.current_version()
    shutil.copytree(DEFAULT_ROOT / "versions" / version, destination / "versions" / version)
    (destination / "CURRENT").write_text(version + "\n")
    return ModelStore(destination)


def publish_without_options(root: Path) -> ModelStore:
    """The committed model published, through the store's own API, into a fresh store
    without intervals or a reference student: a version from before the options."""
    stored = ModelStore(DEFAULT_ROOT).load()
    metadata = {k: v for k, v in stored.metadata.items() if k not in OPTION_KEYS}
    published = ModelStore(root)
    published.publish(stored.onnx_bytes, metadata)  # the store rewrites its own keys
    return published
