"""Excel workbooks (.xlsx) written by openpyxl, a real spreadsheet library: the
first sheet scored as its CSV would be, the answer a workbook of the user's rows
with the scores after them (or CSV, when preferred).

openpyxl is in the development environment only (the server reads workbooks with
the standard library), so these tests live with the API's, which run there."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from server.xlsx import MEDIA_XLSX
from tests.support.clients import make_client
from tests.support.spreadsheets import ACCENTED_IDS, spreadsheet_csv, students, table

openpyxl = pytest.importorskip("openpyxl")  # the serving environment lacks it


def workbook_of(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    book.active.title = "Students"
    for row in rows:
        book.active.append(row)
    book.create_sheet("Notes").append(["not read"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sheet_rows(body: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def post(client, body: bytes, content_type: str, accept: str = "*/*", query: str = ""):
    return client.simulate_post(
        "/predictdata", body=body, query_string=query,
        headers={"Content-Type": content_type, "Accept": accept},
    )  # fmt: skip


@pytest.fixture
def cohort(model) -> list[dict]:
    found = students(model)
    for student, name in zip(found, ACCENTED_IDS, strict=False):
        student["id"] = name
    return found


def test_a_workbook_is_scored_as_its_csv_and_answered_as_a_workbook(client, cohort):
    rows = table(cohort)
    as_csv = post(client, spreadsheet_csv(rows), "text/csv", query="echo=all")
    response = post(client, workbook_of(rows), MEDIA_XLSX)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_XLSX
    answered = sheet_rows(response.content)
    expected = list(csv.reader(io.StringIO(as_csv.text)))
    assert answered[0] == expected[0]
    assert [r[0] for r in answered[1:7]] == ACCENTED_IDS
    assert [r[-1] for r in answered[1:]] == [float(r[-1]) for r in expected[1:]]  # numbers


def test_a_workbook_is_answered_as_csv_when_csv_is_preferred(client, cohort):
    rows = table(cohort)
    response = post(client, workbook_of(rows), MEDIA_XLSX, accept="application/json, text/csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    echoed = post(client, spreadsheet_csv(rows), "text/csv", query="echo=all")
    assert response.text == echoed.text


def test_a_csv_file_comes_back_as_a_workbook_when_asked(client, cohort):
    response = post(client, spreadsheet_csv(table(cohort)), "text/csv", accept=MEDIA_XLSX)
    assert response.status_code == 200, response.text
    assert sheet_rows(response.content)[0][-1] == "math_score"


def test_a_bad_cell_in_a_workbook_names_its_sheet_row(client, cohort):
    cohort[3]["lunch"] = "caviar"
    rows = table(cohort)
    rows.insert(2, [None] * len(rows[0]))  # an empty row: the bad student is sheet row 6
    response = post(client, workbook_of(rows), MEDIA_XLSX)
    assert response.status_code == 422
    assert [(d["row"], d["field"]) for d in response.json["details"]] == [(6, "lunch")]


@pytest.mark.parametrize("body", [b"PK\x03\x04 not a zip", b"plain text"])
def test_a_body_that_is_not_a_workbook_is_a_400(client, body):
    response = post(client, body, MEDIA_XLSX)
    assert response.status_code == 400
    assert response.json["error"].startswith("the body is not a readable .xlsx workbook")


def test_a_sheet_that_expands_past_the_limit_is_refused_before_it_is_parsed(model, cohort):
    rows = table(cohort) * 200  # compresses well: the body stays small
    body = workbook_of(rows)
    client = make_client(model, max_body_bytes=len(body) + 1)
    response = post(client, body, MEDIA_XLSX)
    assert response.status_code == 413
    assert "uncompressed; the limit is" in response.json["error"]


def test_a_workbook_whose_xml_expands_entities_is_a_400(client):
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip("abcdefg", "bcdefgh", strict=True)
    )
    part = f'<?xml version="1.0"?><!DOCTYPE w [{entities}]><workbook>&h;</workbook>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr("xl/workbook.xml", part)
    response = post(client, out.getvalue(), MEDIA_XLSX)
    assert response.status_code == 400
    assert "declares a document type or entities" in response.json["error"]
