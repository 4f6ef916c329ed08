"""POST /predictdata with text/csv, through falcon.testing."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

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
    names = [f["name"] for f in model.metadata["schema"]["features"]]
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
    assert (detail["row"], detail["field"]) == (2, field)
    assert message_part in detail["message"]


def test_missing_column_is_named(client):
    response = post_csv(client, SNAKE.replace(",lunch", "") + "\n")
    assert response.status_code == 422
    assert "lacks column(s) lunch" in response.json["error"]


@pytest.mark.parametrize(
    ("text", "message_part"),
    [
        (f"{SNAKE}\n{ROW},extra\n", "row 1 has 8 fields but the header has 7"),
        (f"{SNAKE}\n{ROW.replace(',', ';')}\n", "row 1 has 1 fields"),
        (f'{SNAKE}\n"female,group B\n', "malformed CSV"),
        ("", "empty CSV body"),
        (b"\xff\xfe" + SNAKE.encode(), "not UTF-8"),
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
