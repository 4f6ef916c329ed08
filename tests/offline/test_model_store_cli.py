"""python -m model_store {list,show,promote,rollback,verify} against a store in tmp_path."""

from __future__ import annotations

import json

import pytest

from model_store.__main__ import main
from model_store.store import CARD_FILE, MODEL_FILE, VERSIONS_DIR, ModelStore


@pytest.fixture
def store(tmp_path, published) -> ModelStore:
    """Two versions of the session's model; the second is current."""
    store = ModelStore(tmp_path / "store")
    store.publish(published.onnx_bytes, published.metadata)
    store.publish(published.onnx_bytes, published.metadata)
    return store


def run(store: ModelStore, *arguments: str) -> int:
    return main(["--store", str(store.root), *arguments])


def test_list_shows_every_version_oldest_first_marking_the_current(store, capsys):
    first, second = store.versions()
    assert run(store, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [[first, "holdout"], ["*", second]]
    holdout_r2 = store.metadata(second)["metrics"]["holdout_r2"]
    assert f"holdout R² {holdout_r2:.4f}" in lines[1]


def test_list_of_an_empty_store_prints_nothing(tmp_path, capsys):
    assert run(ModelStore(tmp_path), "list") == 0
    assert capsys.readouterr().out == ""


def test_show_prints_the_current_versions_metadata(store, capsys):
    assert run(store, "show") == 0
    assert json.loads(capsys.readouterr().out) == store.metadata(store.current_version())


def test_show_prints_a_named_versions_metadata(store, capsys):
    first = store.versions()[0]
    assert run(store, "show", first) == 0
    assert json.loads(capsys.readouterr().out)["version"] == first


def test_show_of_an_unknown_version_fails_naming_it(store, capsys):
    assert run(store, "show", "20200101T000000Z-deadbeef") == 1
    assert "no version '20200101T000000Z-deadbeef'" in capsys.readouterr().err


def test_promote_makes_a_version_current(store, capsys):
    first = store.versions()[0]
    assert run(store, "promote", first, "--yes") == 0
    assert capsys.readouterr().out.endswith(f"current version: {first}\n")
    assert store.current_version() == first


def test_promote_of_an_unknown_version_fails_and_keeps_current(store, capsys):
    current = store.current_version()
    assert run(store, "promote", "20200101T000000Z-deadbeef", "--yes") == 1
    assert "20200101T000000Z-deadbeef" in capsys.readouterr().err
    assert store.current_version() == current


def test_rollback_makes_the_previous_version_current(store, capsys):
    first = store.versions()[0]
    assert run(store, "rollback") == 0
    assert capsys.readouterr().out == f"rolled back; current version: {first}\n"
    assert store.current_version() == first


def test_rollback_from_the_oldest_version_fails_and_keeps_current(store, capsys):
    first = store.versions()[0]
    store.promote(first)
    assert run(store, "rollback") == 1
    assert "nothing to roll back to" in capsys.readouterr().err
    assert store.current_version() == first


def test_verify_reports_every_version_ok(store, capsys):
    assert run(store, "verify") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == store.versions()
    assert all(": ok (sha256 " in line for line in lines)


def test_verify_fails_on_an_altered_model_file_naming_the_sha256(store, corrupt, capsys):
    corrupt(store.root / VERSIONS_DIR / store.versions()[0] / MODEL_FILE)
    assert run(store, "verify") == 1
    assert "has SHA-256" in capsys.readouterr().err


def test_verify_checks_the_model_card_and_fails_on_an_altered_one(
    tmp_path, published, corrupt, capsys
):
    """The server refuses a version whose card fails its SHA-256: verify says so first."""
    store = ModelStore(tmp_path / "store")
    card = b"<!doctype html><title>card</title>"
    version = store.publish(published.onnx_bytes, published.metadata, card=lambda _: card)
    assert run(store, "verify") == 0
    assert "card ok" in capsys.readouterr().out
    corrupt(store.root / VERSIONS_DIR / version / CARD_FILE)
    assert run(store, "verify") == 1
    error = capsys.readouterr().err
    assert f"{CARD_FILE} has SHA-256" in error and "altered or corrupted" in error


def test_verify_fails_on_a_model_that_computes_something_else(
    tmp_path, published, altered_graph, capsys
):
    """Honest SHA-256, wrong arithmetic: the stored parity sample catches it."""
    store = ModelStore(tmp_path / "store")
    store.publish(altered_graph(published.onnx_bytes, 1.0), published.metadata)
    assert run(store, "verify") == 1
    assert "differs from scikit-learn by 1" in capsys.readouterr().err
