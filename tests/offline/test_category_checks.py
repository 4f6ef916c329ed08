"""Refusing near-duplicate and rare category values, with the lines to fix."""

from __future__ import annotations

import pytest

from train.__main__ import main as train_main
from train.categories import DEFAULT_MIN_CATEGORY_ROWS
from train.data import DataError, load_training_data
from train.synthetic import generate, write_csv

ROWS = 200  # enough that every real category is on well over five rows


def sample_lines() -> list[str]:
    return generate(ROWS, seed=1).to_csv(index=False, lineterminator="\n").splitlines()


def with_cell(lines: list[str], line: int, column: str, value: str) -> list[str]:
    """`lines` with one cell replaced; `line` counts from 1, the header."""
    cells = lines[line - 1].split(",")
    cells[lines[0].split(",").index(column)] = value
    return [*lines[: line - 1], ",".join(cells), *lines[line:]]


def write(tmp_path, lines: list[str]):
    path = tmp_path / "students.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def problems(path, **options) -> list[str]:
    with pytest.raises(DataError) as raised:
        load_training_data(path, **options)
    summary, *details = str(raised.value).splitlines()
    assert summary.startswith(f"{path}: {len(details)} problem")
    return details


def test_the_synthetic_sample_passes_every_category_check(tmp_path):
    data = load_training_data(write_csv(tmp_path / "sample.csv", rows=1000, seed=42))
    assert data.rows == 1000


def test_a_value_differing_only_in_case_is_refused_with_its_lines(tmp_path):
    lines = sample_lines()
    for line in (4, 9):
        lines = with_cell(lines, line, "gender", "Female")
    (problem,) = problems(write(tmp_path, lines))
    assert problem.startswith("lines 4, 9, column 'gender': 'Female' (2 rows) differs from")
    assert "only in case or surrounding spaces" in problem
    assert problem.endswith("write it as 'female'")


def test_a_value_differing_only_in_surrounding_spaces_is_refused(tmp_path):
    lines = with_cell(sample_lines(), 6, "lunch", "standard ")
    (problem,) = problems(write(tmp_path, lines))
    assert problem.startswith("line 6, column 'lunch': 'standard ' (1 row) differs from")
    assert problem.endswith("write it as 'standard'")


def test_spaces_written_the_same_way_on_every_row_are_not_a_problem(tmp_path):
    header, *rows = sample_lines()
    lines = [header, *(row.replace("group ", " group ") for row in rows)]
    frame = load_training_data(write(tmp_path, lines)).frame
    assert set(frame["race_ethnicity"]) == {f"group {letter}" for letter in "ABCDE"}


def test_a_rare_value_is_refused_with_its_lines_and_the_other_values(tmp_path):
    lines = sample_lines()
    for line in (7, 30, 151):
        lines = with_cell(lines, line, "lunch", "caviar")
    (problem,) = problems(write(tmp_path, lines))
    assert problem.startswith(
        f"lines 7, 30, 151, column 'lunch': 'caviar' appears in only 3 rows, "
        f"fewer than {DEFAULT_MIN_CATEGORY_ROWS}"
    )
    assert "the other values are 'free/reduced', 'standard'" in problem
    assert "--allow-rare" in problem


def test_every_category_problem_is_listed_in_file_order(tmp_path):
    lines = with_cell(sample_lines(), 20, "lunch", "caviar")
    lines = with_cell(lines, 11, "gender", "MALE")
    lines = with_cell(lines, 11, "race_ethnicity", "group F")
    assert [problem.split(":")[0] for problem in problems(write(tmp_path, lines))] == [
        "line 11, column 'gender'",
        "line 11, column 'race_ethnicity'",
        "line 20, column 'lunch'",
    ]


def test_the_threshold_is_a_parameter(tmp_path):
    path = write_csv(tmp_path / "sample.csv", rows=ROWS, seed=1)
    rarest = "master's degree"
    masters = (generate(ROWS, seed=1)["parental_level_of_education"] == rarest).sum()
    refused = problems(path, min_category_rows=masters + 1)
    assert any(f"{rarest!r} appears in only {masters} rows" in p for p in refused)
    assert load_training_data(path, min_category_rows=masters).rows == ROWS


def test_train_refuses_a_rare_value_and_leaves_no_run(tmp_path, capsys):
    path = write(tmp_path, with_cell(sample_lines(), 5, "lunch", "caviar"))
    runs = tmp_path / "runs"
    assert train_main(["--data", str(path), "--runs-dir", str(runs), "--candidates", "ridge"]) == 2
    err = capsys.readouterr().err
    assert f"error: {path}: 1 problem" in err
    assert "line 5, column 'lunch': 'caviar' appears in only 1 row" in err
    assert list(runs.iterdir()) == []


def test_train_with_allow_rare_keeps_a_rare_value(tmp_path, capsys):
    path = write(tmp_path, with_cell(sample_lines(), 5, "lunch", "caviar"))
    argv = ["--data", str(path), "--runs-dir", str(tmp_path / "runs"), "--candidates", "ridge"]
    assert train_main([*argv, "--allow-rare"]) == 0
    assert "chosen: ridge" in capsys.readouterr().out


def test_train_with_allow_rare_still_refuses_a_case_variant(tmp_path, capsys):
    path = write(tmp_path, with_cell(sample_lines(), 8, "gender", "Male"))
    argv = ["--data", str(path), "--runs-dir", str(tmp_path / "runs"), "--candidates", "ridge"]
    assert train_main([*argv, "--allow-rare"]) == 2
    assert "line 8, column 'gender': 'Male' (1 row) differs from 'male'" in capsys.readouterr().err


def test_train_takes_the_threshold_from_min_category_rows(tmp_path, capsys):
    path = write_csv(tmp_path / "sample.csv", rows=ROWS, seed=1)
    argv = ["--data", str(path), "--runs-dir", str(tmp_path / "runs"), "--candidates", "ridge"]
    assert train_main([*argv, "--min-category-rows", str(ROWS)]) == 2
    assert "--min-category-rows" in capsys.readouterr().err
