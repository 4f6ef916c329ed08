"""Loading a training CSV: both public headers, and a precise message for every bad file."""

import hashlib

import pandas as pd
import pytest

from train.columns import CATEGORICAL_FEATURES, COLUMNS, NUMERIC_FEATURES, TARGET
from train.data import MAX_PROBLEMS, DataError, load_training_data
from train.synthetic import generate, write_csv

PUBLIC_HEADER = (
    "gender,race/ethnicity,parental level of education,lunch,test preparation course,"
    "math score,reading score,writing score"
)
SNAKE_HEADER = (
    "gender,race_ethnicity,parental_level_of_education,lunch,test_preparation_course,"
    "math_score,reading_score,writing_score"
)
ROWS = [
    "female,group B,bachelor's degree,standard,none,71,73,75",
    "male,group C,some college,free/reduced,completed,64,66,61",
    "female,group D,high school,standard,none,58,62,60",
]


def csv_text(*rows: str, header: str = PUBLIC_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def write(tmp_path, content: str | bytes, name: str = "students.csv"):
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def load(path, **options):
    """load_training_data for the few-row files here, whose every category is on a row or two."""
    return load_training_data(path, **{"min_category_rows": 1, **options})


def error_message(path, **options) -> str:
    with pytest.raises(DataError) as raised:
        load_training_data(path, **options)
    return str(raised.value)


def row_with(column: str, value: str, row: str = ROWS[0]) -> str:
    """ROWS[0] with one column (named as in the public header) replaced."""
    cells = row.split(",")
    cells[PUBLIC_HEADER.split(",").index(column)] = value
    return ",".join(cells)


BAD_FILES = {
    "empty file": ("", ["is empty"]),
    "whitespace only": (" \n\n\t\n", ["is empty"]),
    "header only": (csv_text(), ["no data rows"]),
    "missing columns": (
        csv_text(header="gender,race/ethnicity,parental level of education,reading score"),
        ["line 1", "missing columns", "lunch", "math_score", "found header", "'gender,race"],
    ),
    "semicolon separated": (
        csv_text(header=PUBLIC_HEADER.replace(",", ";")),
        ["line 1", "missing columns", "does not look like a comma-separated file"],
    ),
    "duplicate column": (
        csv_text(ROWS[0] + ",group A", header=PUBLIC_HEADER + ",race_ethnicity"),
        ["line 1", "'race/ethnicity' and 'race_ethnicity' both mean"],
    ),
    "NUL bytes": (b"PK\x03\x04\x00\x00binary", ["NUL bytes", "not CSV"]),
    "not UTF-8": (
        csv_text(ROWS[0], "f\xe9minin,group B,high school,standard,none,1,2,3").encode("latin-1"),
        ["line 3", "0xe9 is not UTF-8"],
    ),
    "ragged row": (
        csv_text(ROWS[0], "male,group C,high school,standard,none,64,66"),
        ["line 3", "has 7 fields but the header has 8"],
    ),
    "non-numeric score": (
        csv_text(row_with("math score", "abc")),
        ["1 problem", "line 2, column 'math score'", "'abc' is not a number"],
    ),
    "infinite score": (
        csv_text(row_with("reading score", "inf")),
        ["line 2, column 'reading score'", "'inf' is not a finite number"],
    ),
    "score above range": (
        csv_text(row_with("writing score", "100.5")),
        ["line 2, column 'writing score'", "100.5 is outside 0-100"],
    ),
    "score below range": (
        csv_text(ROWS[0], row_with("math score", "-1")),
        ["line 3, column 'math score'", "-1 is outside 0-100"],
    ),
    "empty categorical": (
        csv_text(row_with("lunch", "")),
        ["line 2, column 'lunch'", "missing value (empty)"],
    ),
    "blank categorical": (
        csv_text(row_with("gender", "  ")),
        ["line 2, column 'gender'", "missing value (empty)"],
    ),
    "NA categorical": (
        csv_text(row_with("race/ethnicity", "NA")),
        ["line 2, column 'race/ethnicity'", "missing value ('NA')"],
    ),
    "null categorical": (
        csv_text(row_with("parental level of education", "null")),
        ["line 2, column 'parental level of education'", "missing value ('null')"],
    ),
    "empty score": (
        csv_text(row_with("math score", "")),
        ["line 2, column 'math score'", "missing value (empty)"],
    ),
    "NaN score": (
        csv_text(row_with("math score", "NaN")),
        ["line 2, column 'math score'", "missing value ('NaN')"],
    ),
    "None score": (
        csv_text(row_with("reading score", "None")),
        ["line 2, column 'reading score'", "missing value ('None')"],
    ),
}


@pytest.mark.parametrize(("content", "expected"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_is_rejected_with_what_to_fix(tmp_path, content, expected):
    message = error_message(write(tmp_path, content))
    assert message.startswith(str(tmp_path / "students.csv"))
    for part in expected:
        assert part in message


def test_missing_file_is_named(tmp_path):
    message = error_message(tmp_path / "nowhere.csv")
    assert "nowhere.csv" in message and "does not exist" in message


def test_directory_is_rejected(tmp_path):
    assert "is a directory" in error_message(tmp_path)


def test_every_problem_is_reported_in_one_message(tmp_path):
    path = write(
        tmp_path,
        csv_text(row_with("math score", "x"), ROWS[1], row_with("lunch", ""), "male,group A"),
    )
    lines = error_message(path).splitlines()
    assert lines[0] == f"{path}: 3 problems"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "line 2, column 'math score'",
        "line 4, column 'lunch'",
        "line 5",
    ]


def test_problems_in_one_row_are_listed_left_to_right(tmp_path):
    bad = "male,,some college,standard,none,abc,,66"
    lines = error_message(write(tmp_path, csv_text(bad))).splitlines()
    assert [line.split(":")[0] for line in lines[1:]] == [
        "line 2, column 'race/ethnicity'",
        "line 2, column 'math score'",
        "line 2, column 'reading score'",
    ]


def test_at_most_twenty_problems_are_listed(tmp_path):
    path = write(tmp_path, csv_text(*[row_with("math score", "x")] * 25))
    lines = error_message(path).splitlines()
    assert lines[0] == f"{path}: 25 problems (first {MAX_PROBLEMS} shown)"
    assert len(lines) == 1 + MAX_PROBLEMS


def test_line_number_is_the_physical_line(tmp_path):
    # A blank line and a quoted value spanning two lines both shift what an editor shows.
    multiline = 'female,"group\nB",high school,standard,none,50,50,50'
    path = write(tmp_path, csv_text(ROWS[0], "", multiline, row_with("math score", "x")))
    assert "line 6, column 'math score'" in error_message(path)


def test_public_and_snake_case_headers_load_identically(tmp_path):
    public = load(write(tmp_path, csv_text(*ROWS), "public.csv"))
    snake = load(write(tmp_path, csv_text(*ROWS, header=SNAKE_HEADER), "snake.csv"))
    pd.testing.assert_frame_equal(public.frame, snake.frame)


def test_column_order_does_not_matter(tmp_path):
    order = [7, 3, 0, 5, 1, 6, 2, 4]

    def shuffle(line: str) -> str:
        cells = line.split(",")
        return ",".join(cells[i] for i in order)

    shuffled = csv_text(*map(shuffle, ROWS), header=shuffle(PUBLIC_HEADER))
    expected = load(write(tmp_path, csv_text(*ROWS), "a.csv")).frame
    actual = load(write(tmp_path, shuffled, "b.csv")).frame
    pd.testing.assert_frame_equal(actual, expected)


def test_extra_columns_are_ignored(tmp_path):
    extra = csv_text(*(row + ",x" for row in ROWS), header=PUBLIC_HEADER + ",student id")
    frame = load(write(tmp_path, extra)).frame
    assert list(frame.columns) == list(COLUMNS)


def test_header_with_byte_order_mark_loads(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + csv_text(*ROWS).encode())
    assert list(load(path).frame.columns) == list(COLUMNS)


def test_windows_line_endings_load(tmp_path):
    path = write(tmp_path, csv_text(*ROWS).replace("\n", "\r\n"))
    assert load(path).rows == len(ROWS)


def test_frame_has_columns_in_order_with_str_and_float_types(tmp_path):
    frame = load(write(tmp_path, csv_text(*ROWS))).frame
    assert list(frame.columns) == list(COLUMNS)
    assert all(pd.api.types.is_string_dtype(frame[name]) for name in CATEGORICAL_FEATURES)
    assert all(frame[name].dtype == "float64" for name in (*NUMERIC_FEATURES, TARGET))
    assert frame.loc[0, TARGET] == 71.0


def test_categorical_values_are_stripped_but_not_restricted(tmp_path):
    path = write(tmp_path, csv_text(row_with("race/ethnicity", "  group F ")))
    assert load(path).frame.loc[0, "race_ethnicity"] == "group F"


def test_none_is_a_test_preparation_category_not_a_missing_value(tmp_path):
    frame = load(write(tmp_path, csv_text(*ROWS))).frame
    assert frame.loc[0, "test_preparation_course"] == "none"


def test_duplicate_rows_are_kept(tmp_path):
    assert load(write(tmp_path, csv_text(ROWS[0], ROWS[0]))).rows == 2


def test_sha256_rows_and_source_describe_the_file(tmp_path):
    path = write(tmp_path, csv_text(*ROWS))
    data = load(path)
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (data.rows, data.source, data.dropped_rows) == (len(ROWS), str(path), 0)


def test_drop_incomplete_drops_and_counts_rows_with_missing_values(tmp_path):
    incomplete = [row_with("lunch", ""), row_with("math score", "NA"), row_with("gender", "null")]
    path = write(tmp_path, csv_text(ROWS[0], *incomplete, ROWS[1]))
    data = load(path, drop_incomplete=True)
    assert (data.rows, data.dropped_rows) == (2, 3)
    assert list(data.frame[TARGET]) == [71.0, 64.0]


def test_drop_incomplete_still_rejects_other_problems(tmp_path):
    bad = "male,,some college,standard,none,abc,66,61"
    message = error_message(write(tmp_path, csv_text(ROWS[0], bad)), drop_incomplete=True)
    assert "1 problem" in message and "'abc' is not a number" in message
    assert "missing value" not in message


def test_drop_incomplete_with_nothing_left_is_an_error(tmp_path):
    path = write(tmp_path, csv_text(row_with("lunch", ""), row_with("gender", "")))
    assert "all 2 data rows have missing values" in error_message(path, drop_incomplete=True)


def test_synthetic_sample_loads_as_generated(tmp_path):
    data = load_training_data(write_csv(tmp_path / "synthetic.csv", rows=200, seed=1))
    expected = generate(rows=200, seed=1)
    expected[[*NUMERIC_FEATURES, TARGET]] = expected[[*NUMERIC_FEATURES, TARGET]].astype(float)
    pd.testing.assert_frame_equal(data.frame, expected)
