"""python -m model_store diff, and the diff promote shows before it switches."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from export.__main__ import latest_run
from export.__main__ import main as export_main
from model_store.__main__ import main
from model_store.diff import compare
from model_store.store import ModelStore
from tests.support.models import REPO
from train.synthetic import generate


@pytest.fixture(scope="module")
def two_versions(published, tiny_training, tmp_path_factory) -> tuple[ModelStore, str, str]:
    """The session's model (current) and a decision tree trained on the same data."""
    work = tmp_path_factory.mktemp("diff")
    store = ModelStore(work / "store")
    old = store.publish(published.onnx_bytes, published.metadata)
    with contextlib.redirect_stdout(io.StringIO()):
        assert tiny_training(work / "runs", "--candidates", "decision_tree") == 0
        argv = [str(latest_run(work / "runs")), "--store", str(store.root), "--no-promote"]
        assert export_main(argv) == 0
    (new,) = set(store.versions()) - {old}
    return store, old, new


@pytest.fixture(scope="module")
def cohort_file(tmp_path_factory) -> Path:
    students = generate(rows=80, seed=9)
    students.insert(0, "id", [f"s{i}" for i in range(len(students))])
    path = tmp_path_factory.mktemp("cohort") / "cohort.csv"
    students.to_csv(path, index=False)
    return path


def direct_scores(store: ModelStore, version: str, path: Path) -> np.ndarray:
    """onnxruntime on the CSV's columns, without the code under test."""
    students = generate(rows=80, seed=9)
    stored = store.load(version)
    session = ort.InferenceSession(stored.onnx_bytes)
    # The layout docs/model-store.md gives: a category as its index in the schema's list.
    schema = stored.metadata["schema"]
    columns = [
        students[f["name"]].map(f["categories"].index)
        if f["kind"] == "categorical"
        else students[f["name"]]
        for f in schema["features"]
    ]
    matrix = np.column_stack(columns).astype(np.float32)
    return session.run(None, {schema["input"]["name"]: matrix})[0].ravel()


def run(store: ModelStore, *arguments: str) -> int:
    return main(["--store", str(store.root), *arguments])


def test_diff_figures_match_a_direct_computation(two_versions, cohort_file):
    store, old, new = two_versions
    change = direct_scores(store, new, cohort_file) - direct_scores(store, old, cohort_file)
    diff = compare(store, old, new, cohort_file)
    np.testing.assert_allclose(diff.change, change, atol=1e-5)
    for points in (1, 3, 5):
        assert diff.moved_more_than(points) == int(np.sum(np.abs(change) > points))
    assert diff.moved_more_than(1) > diff.moved_more_than(5)  # a real spread, not all or none
    worst = int(np.argmax(np.abs(change)))
    assert diff.largest_moves()[0][0] == f"id s{worst}"
    genders = generate(rows=80, seed=9)["gender"].to_numpy()
    for value, (count, mean) in diff.mean_change_by_group()["gender"].items():
        assert count == np.sum(genders == value)
        assert mean == pytest.approx(change[genders == value].mean(), abs=1e-5)


def test_diff_prints_the_moves_per_threshold_and_group(two_versions, cohort_file, capsys):
    store, old, new = two_versions
    diff = compare(store, old, new, cohort_file)
    assert run(store, "diff", old, new, "--cohort", str(cohort_file)) == 0
    out = capsys.readouterr().out
    assert f"{old} -> {new}: 80 students from {cohort_file}" in out
    for points in (1, 3, 5):
        moved = diff.moved_more_than(points)
        assert (
            f"more than {points} point{'s' if points > 1 else ''}: {moved} ({moved / 80:.1%})"
            in out
        )
    assert "largest moves:" in out and "race_ethnicity: group A" in out


def test_default_cohort_is_both_parity_samples_each_student_once(two_versions):
    store, old, new = two_versions
    diff = compare(store, old, new)
    records = [r for v in (old, new) for r in store.metadata(v)["parity_sample"]["records"]]
    unique = {tuple(sorted(r.items())) for r in records}
    assert len(diff.cohort.records) == len(unique)


def test_diff_names_a_missing_cohort_column(two_versions, tmp_path, capsys):
    store, old, new = two_versions
    path = tmp_path / "cohort.csv"
    generate(rows=5).drop(columns="lunch").to_csv(path, index=False)
    assert run(store, "diff", old, new, "--cohort", str(path)) == 1
    assert "line 1: missing columns lunch" in capsys.readouterr().err


@pytest.fixture
def store_copy(two_versions, tmp_path) -> tuple[ModelStore, str, str]:
    """A store with both versions, the old one current, that a test may promote in."""
    source, old, new = two_versions
    store = ModelStore(tmp_path / "store")
    for version in (old, new):
        model = source.load(version)
        published = store.publish(model.onnx_bytes, model.metadata, promote=version == old)
        assert store.load(published).onnx_bytes == model.onnx_bytes
    return store, *store.versions()


def test_promote_without_a_terminal_or_yes_refuses_and_keeps_current(store_copy, capsys):
    store, old, new = store_copy
    assert run(store, "promote", new) == 1  # pytest's stdin is not a terminal
    captured = capsys.readouterr()
    assert "moved by more than 1 point" in captured.out
    assert "stdin is not a terminal" in captured.err and "--yes" in captured.err
    assert store.current_version() == old


def test_promote_with_yes_prints_the_diff_then_switches(store_copy, capsys):
    store, old, new = store_copy
    assert run(store, "promote", new, "--yes") == 0
    out = capsys.readouterr().out
    assert out.index(f"{old} -> {new}") < out.index(f"current version: {new}")
    assert store.current_version() == new


def promote_on_a_terminal(store: ModelStore, version: str, answer: str) -> tuple[int, str]:
    """`python -m model_store promote` with a pseudo-terminal as stdin, answering `answer`."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "model_store", "--store", str(store.root), "promote", version],
            cwd=REPO,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        os.write(controller, answer.encode() + b"\n")
        out, _ = process.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    return process.returncode, out


@pytest.mark.parametrize(("answer", "code", "promoted"), [("y", 0, True), ("n", 1, False)])
def test_promote_on_a_terminal_asks_and_follows_the_answer(store_copy, answer, code, promoted):
    store, old, new = store_copy
    returncode, out = promote_on_a_terminal(store, new, answer)
    assert returncode == code, out
    assert f"make {new} the current version? [y/N]" in out
    assert store.current_version() == (new if promoted else old)


@pytest.mark.parametrize("bad", ["abc", "nan", ""])
def test_diff_names_the_line_of_a_score_that_is_not_a_number(two_versions, tmp_path, bad, capsys):
    store, old, new = two_versions
    path = tmp_path / "cohort.csv"
    students = generate(rows=5).astype({"reading_score": object})
    students.loc[2, "reading_score"] = bad
    students.to_csv(path, index=False)
    assert run(store, "diff", old, new, "--cohort", str(path)) == 1
    assert f"line 4, column 'reading_score': {bad!r} is not a number" in capsys.readouterr().err
