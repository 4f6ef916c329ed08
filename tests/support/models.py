"""The committed model, the example student, and a temporary store to serve them from."""

from __future__ import annotations

import shutil
from pathlib import Path

from model_store.store import DEFAULT_ROOT, ModelStore

REPO = Path(__file__).resolve().parents[2]

STUDENT = {
    "gender": "female",
    "race_ethnicity": "group B",
    "parental_level_of_education": "bachelor's degree",
    "lunch": "standard",
    "test_preparation_course": "none",
    "reading_score": 72,
    "writing_score": 74,
}


def copy_committed_store(destination: Path) -> ModelStore:
    """The committed store's current version, as a fresh store of its own."""
    source = ModelStore(DEFAULT_ROOT)
    version = source.current_version()
    shutil.copytree(DEFAULT_ROOT / "versions" / version, destination / "versions" / version)
    (destination / "CURRENT").write_text(version + "\n")
    return ModelStore(destination)
