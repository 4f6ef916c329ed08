"""The Gunicorn master's check of a version, through a real `python -m model_store
verify --json` child."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from model_store.store import ModelStore, StoreError
from server.preflight import verify_in_child


def test_a_sound_version_is_the_one_to_serve(store):
    assert verify_in_child(store, None) == store.current_version()


def test_a_tampered_version_is_refused_with_the_childs_own_message(store):
    model = store.root / "versions" / store.current_version() / "model.onnx"
    os.chmod(model, 0o644)
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(StoreError, match="SHA-256 .* the file was altered or corrupted"):
        verify_in_child(store, None)


def test_an_unknown_version_is_refused_naming_it(store):
    with pytest.raises(StoreError, match="no version 'nope'"):
        verify_in_child(store, "nope")


def test_verify_json_reports_one_line_per_version(store: ModelStore):
    result = subprocess.run(
        [sys.executable, "-m", "model_store", "--store", str(store.root), "verify", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    (line,) = result.stdout.splitlines()
    report = json.loads(line)
    assert report["version"] == store.current_version()
    assert report["ok"] is True
    assert "parity" in report["message"]
