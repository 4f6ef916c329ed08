"""python -m train: what it trains on, what it refuses, what it writes and what it prints."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import pytest

from export.__main__ import latest_run, load_pipeline, read_split
from export.__main__ import main as export_main
from model_store.store import ModelStore
from train.__main__ import main as train_main
from train.columns import FEATURES
from train.pipeline import candidates
from train.run_files import (
    HOLDOUT_SPLIT_FILE,
    LEADERBOARD_CSV,
    LEADERBOARD_MD,
    PIPELINE_FILE,
    RUN_FILE,
)
from train.synthetic import generate

# The public data set's header, in its column order.
PUBLIC_HEADER = {
    "gender": "gender",
    "race_ethnicity": "race/ethnicity",
    "parental_level_of_education": "parental level of education",
    "lunch": "lunch",
    "test_preparation_course": "test preparation course",
    "math_score": "math score",
    "reading_score": "reading score",
    "writing_score": "writing score",
}


def read_run(run_dir) -> dict:
    return json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))


def without_timings(run: dict) -> dict:
    """run.json less what legitimately differs between two identical trainings."""
    run = json.loads(json.dumps(run))
    del run["training_seconds"]
    for row in run["leaderboard"]:
        del row["seconds"]
    return run


def model_facts(run: dict) -> dict:
    """What training chose and measured, whatever file (name, bytes) the rows came from."""
    facts = without_timings(run)
    del facts["training_data"]["source"], facts["training_data"]["sha256"]
    return {key: facts[key] for key in ("estimator", "metrics", "leaderboard", "training_data")}


def csv_lines(rows: int = 40, seed: int = 3) -> list[str]:
    return generate(rows, seed).to_csv(index=False, lineterminator="\n").splitlines()


def with_cell(lines: list[str], line: int, column: str, value: str) -> list[str]:
    """`lines` with one cell replaced; `line` counts from 1, the header."""
    cells = lines[line - 1].split(",")
    cells[lines[0].split(",").index(column)] = value
    return [*lines[: line - 1], ",".join(cells), *lines[line:]]


def without_column(lines: list[str], column: str) -> list[str]:
    index = lines[0].split(",").index(column)
    return [",".join(c for i, c in enumerate(line.split(",")) if i != index) for line in lines]


def text(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


BAD_FILES = {
    "score not a number": (
        text(with_cell(csv_lines(), 5, "math_score", "abc")),
        ["line 5, column 'math_score'", "'abc' is not a number"],
    ),
    "score out of range": (
        text(with_cell(csv_lines(), 12, "reading_score", "101")),
        ["line 12, column 'reading_score'", "outside 0-100"],
    ),
    "missing category": (
        text(with_cell(csv_lines(), 7, "lunch", "")),
        ["line 7, column 'lunch'", "missing value"],
    ),
    "missing column": (
        text(without_column(csv_lines(), "writing_score")),
        ["line 1", "missing columns writing_score"],
    ),
    "row with too few fields": (
        text([*csv_lines()[:8], "female,group B,high school", *csv_lines()[9:]]),
        ["line 9", "has 3 fields but the header has 8"],
    ),
    "not UTF-8": (
        "\n".join(with_cell(csv_lines(), 20, "gender", "f\xe9male")).encode("latin-1"),
        ["line 20", "0xe9 is not UTF-8"],
    ),
}


@pytest.fixture
def bad_file(request, tmp_path):
    content, expected = BAD_FILES[request.param]
    path = tmp_path / "students.csv"
    path.write_bytes(content)
    return path, expected


@pytest.mark.parametrize("bad_file", BAD_FILES, indirect=True)
def test_bad_training_file_exits_naming_file_line_and_column(bad_file, tmp_path, capsys):
    path, expected = bad_file
    code = train_main(["--data", str(path), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith(f"error: {path}: ")
    for part in expected:
        assert part in err


@pytest.mark.parametrize("bad_file", BAD_FILES, indirect=True)
def test_bad_training_file_leaves_no_run_and_nothing_to_publish(bad_file, tmp_path, capsys):
    path, _ = bad_file
    runs, store = tmp_path / "runs", ModelStore(tmp_path / "store")
    train_main(["--data", str(path), "--runs-dir", str(runs)])
    assert list(runs.iterdir()) == []
    assert export_main(["--runs-dir", str(runs), "--store", str(store.root)]) == 1
    assert "no complete training run" in capsys.readouterr().err
    assert store.versions() == []


def test_file_too_small_for_cross_validation_is_refused_with_a_message(tmp_path, capsys):
    path = tmp_path / "students.csv"
    path.write_bytes(text(csv_lines(rows=4)))
    runs = tmp_path / "runs"
    code = train_main(["--data", str(path), "--runs-dir", str(runs), "--candidates", "ridge"])
    assert code != 0
    assert str(path) in capsys.readouterr().err
    assert list(runs.iterdir()) == []


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(
            lambda frame: frame[list(PUBLIC_HEADER)].rename(columns=PUBLIC_HEADER), id="public"
        ),
        pytest.param(lambda frame: frame[list(frame.columns[::-1])], id="shuffled"),
    ],
)
def test_header_spelling_and_column_order_train_the_same_model(
    variant, tiny_training, trained_run, tmp_path
):
    """The session run trained on the snake_case synthetic sample; these are the same rows."""
    path = tmp_path / "students.csv"
    variant(generate(trained_run.rows, 42)).to_csv(path, index=False, lineterminator="\n")
    with contextlib.redirect_stdout(io.StringIO()):
        assert tiny_training(tmp_path / "runs", "--data", str(path)) == 0
    rerun = read_run(latest_run(tmp_path / "runs"))
    assert model_facts(rerun) == model_facts(read_run(trained_run.path))


@pytest.fixture(scope="module")
def retrained_run(tiny_training, tmp_path_factory):
    """The session's tiny training, done a second time."""
    runs_dir = tmp_path_factory.mktemp("again")
    with contextlib.redirect_stdout(io.StringIO()):
        assert tiny_training(runs_dir) == 0
    return latest_run(runs_dir)


def test_same_seed_gives_the_same_run_but_for_timings(trained_run, retrained_run):
    assert without_timings(read_run(retrained_run)) == without_timings(read_run(trained_run.path))


def test_same_seed_saves_pipelines_that_predict_identically(trained_run, retrained_run):
    holdout = read_split(trained_run.path / HOLDOUT_SPLIT_FILE)[list(FEATURES)]
    first = load_pipeline(trained_run.path / PIPELINE_FILE).predict(holdout)
    second = load_pipeline(retrained_run / PIPELINE_FILE).predict(holdout)
    np.testing.assert_array_equal(first, second)


@pytest.fixture(scope="module")
def below_floor(tiny_training, tmp_path_factory):
    """A tiny run trained with a quality floor it cannot reach: (runs dir, exit code, stderr)."""
    runs_dir = tmp_path_factory.mktemp("below_floor")
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()) as err,
    ):
        code = tiny_training(runs_dir, "--min-r2", "0.99")
    return runs_dir, code, err.getvalue()


def test_run_below_the_quality_floor_exits_1_saying_so(below_floor):
    _, code, err = below_floor
    assert code == 1
    assert "below the quality floor 0.99" in err
    assert "will not be published" in err


def test_export_with_the_same_floor_publishes_nothing(below_floor, tmp_path, capsys):
    runs_dir, _, _ = below_floor
    store = ModelStore(tmp_path / "store")
    code = export_main(
        ["--runs-dir", str(runs_dir), "--store", str(store.root), "--min-r2", "0.99"]
    )
    assert code == 1
    assert "below the quality floor 0.99" in capsys.readouterr().err
    assert store.versions() == []


def test_export_refuses_a_run_that_failed_its_quality_floor(below_floor, tmp_path, capsys):
    runs_dir, _, _ = below_floor
    store = ModelStore(tmp_path / "store")
    assert export_main(["--runs-dir", str(runs_dir), "--store", str(store.root)]) == 1
    assert "quality floor" in capsys.readouterr().err
    assert store.versions() == []


def test_leaderboard_csv_ranks_every_candidate_by_cv_r2(trained_run):
    with open(trained_run.path / LEADERBOARD_CSV, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(row["name"] for row in rows) == sorted(trained_run.candidates)
    scores = [float(row["cv_r2_mean"]) for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_leaderboard_markdown_has_a_ranked_row_per_candidate(trained_run):
    lines = (trained_run.path / LEADERBOARD_MD).read_text(encoding="utf-8").splitlines()
    ranked = [line.split("|")[1:3] for line in lines[2:]]
    leaders = [r["name"] for r in read_run(trained_run.path)["leaderboard"]]
    assert [(rank.strip(), name.strip()) for rank, name in ranked] == [
        (str(i), name) for i, name in enumerate(leaders, 1)
    ]


def test_a_progress_line_is_printed_as_each_candidate_finishes(trained_run):
    lines = trained_run.stdout.splitlines()
    progress = [line.split() for line in lines if line.startswith("  ") and "CV R²" in line]
    assert [words[0] for words in progress] == list(trained_run.candidates)
    assert all("MAE" in words for words in progress)


def test_unknown_candidate_is_refused_naming_it_and_the_choices(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit:
        train_main(["--candidates", "ridge,xgboost", "--runs-dir", str(runs)])
    message = str(exit.value.code)
    assert "unknown candidate" in message and "'xgboost'" in message
    assert all(c.name in message for c in candidates(42))
    assert not runs.exists()


def exit_code(argv: list[str]) -> int | str | None:
    """main()'s return value, or what it passed to SystemExit (argparse and usage errors)."""
    try:
        return train_main(argv)
    except SystemExit as exit:
        return exit.code


@pytest.mark.parametrize(
    "arguments",
    [
        ["--candidates", " , "],
        ["--candidates", "ridge", "--rows", "0"],
        ["--candidates", "ridge", "--folds", "1"],
    ],
    ids=["no candidate named", "no rows", "one fold"],
)
def test_bad_option_is_refused_before_a_run_folder_is_made(arguments, tmp_path):
    runs = tmp_path / "runs"
    assert exit_code([*arguments, "--runs-dir", str(runs)]) not in (0, None)
    assert not runs.exists() or list(runs.iterdir()) == []
