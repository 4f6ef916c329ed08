"""POST /predictdata with text/csv, through falcon.testing."""

from __future__ import annotations

import csv
import io
import warnings

import numpy as np
import pytest

from server import csv_input
from server.csv_input import CsvParser
from server.csv_output import csv_response, hundredths_text
from tests.support.clients import make_client

SNAKE = (
    "gender,race_ethnicity,parental_level_of_education,lunch,test_preparation_course,"
    "reading_score,writing_score"
)
SPACED = (
    "gender,race/ethnicity,parental level of education,lunch,test preparation course,"
    "reading score,writing score"
)
ROW = "female,group B,bachelor's degree,standard,none,72,74"


def post_csv(client, text: str | bytes):
    return client.simulate_post("/predictdata", body=text, headers={"Content-Type": "text/csv"})


def rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.text)))


def sample_csv(model, with_ids: bool) -> str:
    records = model.metadata["parity_sample"]["records"]
    names = list(model.contract.model.feature_names)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow((["id"] if with_ids else []) + names)
    for i, record in enumerate(records):
        writer.writerow(([f"s{i}"] if with_ids else []) + [record[n] for n in names])
    return out.getvalue()


def test_csv_in_csv_out_in_order(client, model):
    response = post_csv(client, sample_csv(model, with_ids=True))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["x-model-version"] == model.version
    result = rows(response)
    assert [r["id"] for r in result] == [f"s{i}" for i in range(len(result))]
    np.testing.assert_allclose(
        [float(r["math_score"]) for r in result],
        model.metadata["parity_sample"]["expected"],
        atol=0.005,
    )


def test_without_an_id_column_only_scores_come_back(client, model):
    response = post_csv(client, sample_csv(model, with_ids=False))
    assert response.text.splitlines()[0] == "math_score"


def test_both_headers_and_any_column_order_score_alike(client):
    snake = post_csv(client, f"{SNAKE}\n{ROW}\n").text
    spaced = post_csv(client, f"{SPACED}\n{ROW}\n").text
    names, values = SNAKE.split(","), ROW.split(",")
    reordered = post_csv(client, ",".join(names[::-1]) + "\n" + ",".join(values[::-1]) + "\n").text
    assert snake == spaced == reordered


def test_header_only_scores_nothing(client):
    response = post_csv(client, SNAKE + "\n")
    assert response.status_code == 200
    assert response.text == "math_score\n"


def test_ids_with_commas_and_quotes_survive(client):
    response = post_csv(client, f'id,{SNAKE}\n"a,""b""",{ROW}\n')
    assert rows(response)[0]["id"] == 'a,"b"'


@pytest.mark.parametrize(
    ("cell_row", "field", "message_part"),
    [
        ("female,group B,bachelor's degree,caviar,none,72,74", "lunch", "not an allowed value"),
        ("female,group B,bachelor's degree,standard,none,abc,74", "reading_score", "not a number"),
        ("female,group B,bachelor's degree,standard,none,nan,74", "reading_score", "finite"),
        ("female,group B,bachelor's degree,standard,none,72,inf", "writing_score", "finite"),
        ("female,group B,bachelor's degree,standard,none,72,101", "writing_score", "out of range"),
        ("female,,bachelor's degree,standard,none,72,74", "race_ethnicity", "missing value"),
    ],
)
def test_bad_cell_is_a_422_naming_row_and_field(client, cell_row, field, message_part):
    response = post_csv(client, f"{SNAKE}\n{ROW}\n{cell_row}\n")
    assert response.status_code == 422
    (detail,) = response.json["details"]
    assert (detail["row"], detail["field"]) == (3, field)  # the header is row 1
    assert message_part in detail["message"]


def test_missing_column_is_named(client):
    response = post_csv(client, SNAKE.replace(",lunch", "") + "\n")
    assert response.status_code == 422
    assert "lacks column(s) lunch" in response.json["error"]


@pytest.mark.parametrize(
    ("text", "message_part"),
    [
        (f"{SNAKE}\n{ROW},extra\n", "row 2 has 8 fields but the header has 7"),
        (f"{SNAKE}\n{ROW.replace(',', ';')}\n", "row 2 has 1 fields"),
        (f'{SNAKE}\n"female,group B\n', "malformed CSV"),
        ("", "empty CSV body"),
        (b"\x81" + SNAKE.encode(), "neither UTF-8 nor Windows-1252"),
        (f"{SNAKE},gender\n", "appears twice"),
    ],
)
def test_malformed_csv_is_a_400(client, text, message_part):
    response = post_csv(client, text)
    assert response.status_code == 400
    assert message_part in response.json["error"]


def test_a_utf8_bom_before_the_header_is_accepted(client):
    response = post_csv(client, ("\ufeff" + f"{SNAKE}\n{ROW}\n").encode())
    assert response.status_code == 200


# -- the fast path (np.loadtxt) against the csv module path: same answers -----

SAME_AS_ROW = [
    ROW.replace("72", "7.2e1"),
    ROW.replace("72", "+72"),
    ROW.replace("72", " 72 "),
    ROW.replace("72", "072"),
    ROW.replace("72", "7_2"),  # float() reads underscores; loadtxt does not
    ROW.replace("72", "٧٢"),  # and non-ASCII digits: the csv module path reads them
    ROW.replace("72", "\xa072"),
    ROW.replace("female", " female"),  # categories are stripped of blanks
    ROW.replace("none", "none\t"),
]


@pytest.mark.parametrize("row", SAME_AS_ROW)
def test_cells_read_as_float_and_strip_read_them_score_as_the_plain_cell(client, row):
    expected = post_csv(client, f"{SNAKE}\n{ROW}\n").text
    response = post_csv(client, f"{SNAKE}\n{ROW}\n{row}\n")
    assert response.status_code == 200
    assert response.text == expected + expected.split("\n", 1)[1]


@pytest.mark.parametrize(
    "text",
    [
        f"{SNAKE}\r\n{ROW}\r\n{ROW}\r\n",
        f"{SNAKE}\n{ROW}\n{ROW}",
        f"{SNAKE}\n\n{ROW}\n\n\n{ROW}\n\n",
        f"{SPACED}\n{ROW}\n{ROW}\n",
        "\ufeff" + f"{SNAKE}\r\n{ROW}\r\n{ROW}",
    ],
    ids=["crlf", "no-final-newline", "blank-lines", "spaced-header", "bom-crlf"],
)
def test_line_ends_blank_lines_and_header_spellings_do_not_change_the_answer(client, text):
    response = post_csv(client, text.encode())
    assert response.status_code == 200
    assert response.text == post_csv(client, f"{SNAKE}\n{ROW}\n{ROW}\n").text


@pytest.mark.parametrize(
    "text",
    [SNAKE, f"{SNAKE}\n\n\n", f"{SNAKE}\r\n", f"{SNAKE}\r\n\r\n"],
    ids=["no-newline", "blank-lines", "crlf", "crlf-blank"],
)
def test_a_header_without_students_scores_nothing(client, text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loadtxt warns if it reads no line: not called then
        response = post_csv(client, text)
    assert response.status_code == 200
    assert response.text == "math_score\n"
    assert post_csv(client, "id," + text).text == "id,math_score\n"


def test_ids_are_kept_exactly_in_any_column_and_beside_unknown_columns(client):
    names, values = SNAKE.split(","), ROW.split(",")
    header = ",".join([*names[:3], "id", "notes", *names[3:]])
    ids = ["#1", " spaced ", "", "Zoë ☃", "a\tb", "x" * 1000]
    lines = [",".join([*values[:3], i, "free # text", *values[3:]]) for i in ids]
    response = post_csv(client, "\n".join([header, *lines]) + "\n")
    assert response.status_code == 200
    score = post_csv(client, f"{SNAKE}\n{ROW}\n").text.split("\n")[1]
    assert response.text == "id,math_score\n" + "".join(f"{i},{score}\n" for i in ids)


def test_an_id_longer_than_the_csv_modules_field_limit_is_refused_as_it_refuses_it(client):
    limit = csv.field_size_limit()
    fits = post_csv(client, f"id,{SNAKE}\n{'x' * limit},{ROW}\n")
    assert fits.status_code == 200
    assert fits.text.startswith("id,math_score\n" + "x" * limit + ",")
    response = post_csv(client, f"id,{SNAKE}\n{'x' * (limit + 1)},{ROW}\n")
    assert response.status_code == 400
    assert response.json["error"] == (
        f"malformed CSV at line 2: field larger than field limit ({limit})"
    )


NOT_ALLOWED_GENDER = "is not an allowed value; allowed: 'female', 'male'"


@pytest.mark.parametrize(
    ("cell_row", "field", "message"),
    [
        # Longer than a category, starting with it: the fixed-width read must not cut
        # it down to the category.
        (ROW.replace("female", "femaleXYZ"), "gender", f"'femaleXYZ' {NOT_ALLOWED_GENDER}"),
        (ROW.replace("female", "female" + "x" * 54), "gender",
         f"{'female' + 'x' * 44!r} {NOT_ALLOWED_GENDER}"),
        (ROW.replace("bachelor's degree", "bachelor's degree and more"),
         "parental_level_of_education",
         "\"bachelor's degree and more\" is not an allowed value; allowed: "
         "\"associate's degree\", \"bachelor's degree\", 'high school', "
         "\"master's degree\", 'some college', 'some high school'"),
        (ROW.replace("female", "female#"), "gender", f"'female#' {NOT_ALLOWED_GENDER}"),
        (ROW.replace("female", "#female"), "gender", f"'#female' {NOT_ALLOWED_GENDER}"),
        (ROW.replace("female", "fémale"), "gender", f"'fémale' {NOT_ALLOWED_GENDER}"),
        (ROW.replace("female", "жена"), "gender", f"'жена' {NOT_ALLOWED_GENDER}"),
        (ROW.replace("female", "female\x00"), "gender", f"'female\\x00' {NOT_ALLOWED_GENDER}"),
        (ROW.replace("72", "72#"), "reading_score",
         "'72#' is not a number; expected a number from 0 to 100"),
        (ROW.replace("72", "0x10"), "reading_score",
         "'0x10' is not a number; expected a number from 0 to 100"),
        (ROW.replace("72", ""), "reading_score",
         "missing value; expected a number from 0 to 100"),
        (ROW.replace("72", "1e400"), "reading_score",
         "must be a finite number, a number from 0 to 100"),
        (ROW.replace("72", "100.0000001"), "reading_score",
         "100 is out of range; expected a number from 0 to 100"),
        (ROW.replace("72", "-1e-9"), "reading_score",
         "-1e-09 is out of range; expected a number from 0 to 100"),
    ],
)  # fmt: skip
def test_a_bad_cell_is_named_exactly(client, cell_row, field, message):
    for text in (f"{SNAKE}\n{ROW}\n{cell_row}\n", f"{SNAKE}\r\n{ROW}\r\n{cell_row}"):
        response = post_csv(client, text)
        assert response.status_code == 422
        assert response.json["details"] == [{"row": 3, "field": field, "message": message}]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (f"{SNAKE}\n{ROW}\n   \n", "malformed CSV: row 3 has 1 fields but the header has 7"),
        (f"{SNAKE}\n{ROW.replace(',74', '')}\n", "malformed CSV: row 2 has 6 fields"),
        (f"{SNAKE}\n{ROW}\n{ROW},\n", "malformed CSV: row 3 has 8 fields"),
        (
            f"{SNAKE}\n{ROW}\rx\n",
            "malformed CSV at line 2: new-line character seen in unquoted field",
        ),
    ],
    ids=["blank-with-spaces", "short-row", "trailing-comma", "lone-cr"],
)
def test_ragged_rows_and_stray_line_breaks_are_a_400(client, text, error):
    response = post_csv(client, text)
    assert response.status_code == 400
    assert response.json["error"].startswith(error)


def test_blank_lines_are_not_counted_against_the_row_limit(model):
    client = make_client(model, max_rows=2)
    assert post_csv(client, f"{SNAKE}\n{ROW}\n\n\n\n{ROW}\n").status_code == 200
    assert post_csv(client, f"{SNAKE}\r\n\r\n{ROW}\r\n\r\n{ROW}\r\n\r\n").status_code == 200
    response = post_csv(client, f"{SNAKE}\n{ROW}\n\n{ROW}\n{ROW}\n")
    assert response.status_code == 413
    assert response.json["error"] == "3 students in one request; the limit is 2: split the file"


def test_too_many_rows_are_refused_before_any_cell_is_read(model, monkeypatch):
    monkeypatch.setattr(np, "loadtxt", _must_not_be_called)
    monkeypatch.setattr(csv_input.csv, "reader", _must_not_be_called)
    response = post_csv(make_client(model, max_rows=2), f"{SNAKE}\n{ROW}\n{ROW}\n{ROW}\n")
    assert response.status_code == 413


def _must_not_be_called(*args, **kwargs):
    raise AssertionError("the body was read although it has too many rows")


# -- the parser itself -------------------------------------------------------------


@pytest.fixture
def parser(model) -> CsvParser:
    return CsvParser(model.contract, max_rows=100)


@pytest.mark.parametrize(
    "text",
    [
        f"{SNAKE}\n{ROW}\n{ROW.replace('female', 'male')}\n",
        f"{SPACED}\r\n{ROW}\r\n{ROW.replace('female', 'male')}",
        f"id,{SNAKE},notes\n#a,{ROW},x\n b ,{ROW.replace('female', 'male')},\n",
    ],
    ids=["plain", "crlf", "ids"],
)
def test_plain_bodies_take_the_fast_path_and_give_category_codes(parser, monkeypatch, text):
    monkeypatch.setattr(csv_input.csv, "reader", _must_not_be_called)
    batch = parser.parse(text.encode())
    assert batch.size == 2
    # Each category as its index in the contract's categories: the model's input.
    codes = parser.category_codes["gender"]
    np.testing.assert_array_equal(batch.columns["gender"], [codes["female"], codes["male"]])
    assert batch.columns["gender"].dtype == np.intp
    np.testing.assert_array_equal(batch.columns["reading_score"], [72.0, 72.0])
    assert batch.columns["reading_score"].dtype == np.float64


def test_the_fast_path_gives_what_the_csv_module_path_gives(parser):
    text = (
        f"{SNAKE},id\n{ROW},a\n\n{ROW.replace('72', '0.5e2')},#b\n"
        f"{ROW.replace('female', 'male').replace('74', '-0')},\n"
    )
    fast = parser.parse(text.encode())
    slow = parser.parse_text(text)
    assert (fast.size, fast.ids, fast.single) == (slow.size, slow.ids, slow.single) == (
        3, ["a", "#b", ""], False,
    )  # fmt: skip
    for name, column in slow.columns.items():
        assert list(fast.columns[name]) == list(column)
    assert np.signbit(fast.columns["writing_score"][2])  # "-0" is -0.0 in both


# -- the answer's text -------------------------------------------------------------


def reference_csv(scores: list[float], ids: list | None) -> bytes:
    """The answer as csv.writer and str() make it."""
    if ids is None:
        return ("math_score\n" + "".join(f"{s}\n" for s in scores)).encode()
    out = io.StringIO()
    out.write("id,math_score\n")
    carriage_return = any(isinstance(i, str) and "\r" in i for i in ids)
    quoting = csv.QUOTE_ALL if carriage_return else csv.QUOTE_MINIMAL
    csv.writer(out, lineterminator="\n", quoting=quoting).writerows(zip(ids, scores, strict=True))
    return out.getvalue().encode()


SCORES = [64.35, 0.0, -0.0, 100.0, 0.01, -15.88, 110.91, 1234.56, -0.07, float("nan"), 1e-5]


@pytest.mark.parametrize(
    "ids",
    [
        None,
        [f"s{i}" for i in range(len(SCORES))],
        ["", " ", "a,b", 'q"', "#", "Zoë", "\t", "x", "y", "z", "w"],
        ["a\nb", *"bcdefghijk"],
        ["a\rb", *"bcdefghijk"],
        [7, "b", None, *"defghijk"],
    ],
    ids=["no-ids", "plain", "quoted", "newline", "carriage-return", "not-str"],
)
def test_the_csv_answer_is_what_csv_writer_and_str_write(ids):
    if ids is not None:
        ids = ids[: len(SCORES)]
    assert csv_response(SCORES, ids) == reference_csv(SCORES, ids)


def test_every_score_in_hundredths_is_written_as_str_writes_it():
    scores = [h / 100 for h in range(-6000, 16000)]
    assert csv_response(scores, None) == reference_csv(scores, None)
    assert csv_response([], None) == b"math_score\n"
    assert csv_response([], []) == b"id,math_score\n"


def test_ids_and_scores_of_different_lengths_are_a_bug_not_an_answer():
    with pytest.raises(ValueError):
        csv_response([1.0, 2.0], ["a"])


def test_hundredths_are_looked_up_as_str_writes_them():
    inside = np.round(np.arange(-6000, 16000) / 100, 2)
    assert hundredths_text(inside) == [str(v) for v in inside.tolist()]
    for outliers in ([-0.0, 1.5], [123456.78], [float("nan")], [float("inf")]):
        values = np.asarray(outliers)
        assert hundredths_text(values) == [str(v) for v in outliers]
    assert hundredths_text(np.empty(0)) == []
