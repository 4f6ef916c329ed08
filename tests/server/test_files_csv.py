"""CSV files as spreadsheets write them (tests/server/spreadsheets.py), through
falcon.testing and once through the real Gunicorn: each is scored as the plain
UTF-8 comma file with the same students."""

from __future__ import annotations

import csv
import io
import urllib.request

import pytest

from tests.support.spreadsheets import (
    ACCENTED_IDS,
    EXCEL_EUROPEAN,
    EXCEL_WINDOWS,
    spreadsheet_csv,
    students,
    table,
)


def post_csv(client, body: bytes):
    return client.simulate_post("/predictdata", body=body, headers={"Content-Type": "text/csv"})


def answered(response) -> list[tuple[str, str]]:
    return [(r["id"], r["math_score"]) for r in csv.DictReader(io.StringIO(response.text))]


@pytest.fixture
def cohort(model) -> list[dict]:
    return students(model)


@pytest.fixture
def plain_answer(client, cohort):
    response = post_csv(client, spreadsheet_csv(table(cohort)))
    assert response.status_code == 200
    return answered(response)


@pytest.mark.parametrize(
    "written",
    [
        EXCEL_EUROPEAN,
        {"delimiter": ";"},
        {"delimiter": "\t", "line_end": "\r\n"},
        {"bom": True},
        {"delimiter": ";", "decimal_comma": True},
    ],
    ids=["excel-european", "semicolon", "tab-crlf", "bom", "decimal-comma"],
)
def test_a_spreadsheet_dialect_is_scored_as_the_plain_file(client, cohort, plain_answer, written):
    response = post_csv(client, spreadsheet_csv(table(cohort), **written))
    assert response.status_code == 200, response.text
    assert response.headers["x-input-encoding"] == "utf-8"
    assert answered(response) == plain_answer


def test_a_windows_1252_file_is_read_as_such_and_its_ids_come_back_in_utf8(client, cohort):
    for student, name in zip(cohort, ACCENTED_IDS, strict=False):
        student["id"] = name
    plain = post_csv(client, spreadsheet_csv(table(cohort)))
    response = post_csv(client, spreadsheet_csv(table(cohort), **EXCEL_WINDOWS))
    assert response.status_code == 200, response.text
    assert response.headers["x-input-encoding"] == "windows-1252"
    assert plain.headers["x-input-encoding"] == "utf-8"
    assert [i for i, _ in answered(response)][: len(ACCENTED_IDS)] == ACCENTED_IDS
    assert answered(response) == answered(plain)


def test_a_decimal_comma_is_read_only_where_the_separator_is_a_semicolon(client, cohort):
    body = spreadsheet_csv(table(cohort[:2]), decimal_comma=True)  # csv quotes "72,5"
    response = post_csv(client, body)
    assert response.status_code == 422
    assert response.json["details"][0]["message"].endswith(
        ",5' is not a number; expected a number from 0 to 100"
    )


def test_a_header_with_no_known_column_names_the_separator_it_saw(client, cohort):
    response = post_csv(client, spreadsheet_csv(table(cohort), delimiter="|"))
    assert response.status_code == 422
    error = response.json["error"]
    assert "names none of the columns" in error
    assert "it seems to be separated by '|'" in error
    assert "expected gender, race_ethnicity," in error
    assert "separated by commas, semicolons or tabs" in error


def test_a_missing_column_is_named_with_the_separator_read(client, cohort):
    rows = [row[:4] + row[5:] for row in table(cohort)]  # no lunch
    response = post_csv(client, spreadsheet_csv(rows, **EXCEL_EUROPEAN))
    assert response.status_code == 422
    assert response.json["error"].startswith(
        "the CSV header (read as separated by a semicolon) lacks column(s) lunch;"
    )


def test_bytes_that_are_neither_utf8_nor_windows_1252_are_a_400_naming_the_byte(client, cohort):
    body = spreadsheet_csv(table(cohort)).replace(b"s1,", b"s\x811,")
    response = post_csv(client, body)
    assert response.status_code == 400
    assert response.json["error"].startswith(
        "the CSV file is neither UTF-8 nor Windows-1252 text (byte 0x81 on line 3): "
    )


def test_a_bom_that_is_not_followed_by_utf8_is_a_400(client, cohort):
    body = spreadsheet_csv(table(cohort), bom=True).replace(b"s1,", b"s\xe91,")
    response = post_csv(client, body)
    assert response.status_code == 400
    assert "starts as UTF-8 (a byte-order mark)" in response.json["error"]


def test_the_real_server_scores_a_european_excel_file(store, start_server, model):
    cohort = students(model)
    for student, name in zip(cohort, ACCENTED_IDS, strict=False):
        student["id"] = name
    server = start_server(store.root)
    request = urllib.request.Request(
        server.url + "/predictdata",
        data=spreadsheet_csv(table(cohort), **EXCEL_EUROPEAN),
        headers={"Content-Type": "text/csv"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["X-Input-Encoding"] == "utf-8"
        rows = list(csv.DictReader(io.StringIO(response.read().decode("utf-8"))))
    assert [r["id"] for r in rows] == [s["id"] for s in cohort]
    expected = model.metadata["parity_sample"]["expected"]
    whole = [float(r["math_score"]) for i, r in enumerate(rows) if i % 3 != 1]
    assert whole == pytest.approx([e for i, e in enumerate(expected) if i % 3 != 1], abs=0.005)
