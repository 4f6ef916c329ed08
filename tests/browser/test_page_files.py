"""Files as spreadsheets write them, through the page in Chromium against the real
server: each scored, its download the user's own rows with the scores; a bad row
has the same row number on the page, in the API and in score_file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from server.score_file import ScoringStopped, score_file
from tests.support.browser import CHROMIUM, NO_CHROMIUM, screenshot
from tests.support.http import request
from tests.support.spreadsheets import (
    ACCENTED_IDS,
    EXCEL_EUROPEAN,
    EXCEL_WINDOWS,
    spreadsheet_csv,
    students,
    table,
)

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)
PAGE_QUERY = "?interval=90&echo=all"  # what the page asks for a file


def cohort(model) -> list[dict]:
    found = students(model, 12)
    for student, name in zip(found, ACCENTED_IDS, strict=False):
        student["id"] = name
    return found


def upload(page, path: Path) -> None:
    page.get_by_label("CSV or Excel file", exact=True).set_input_files(path)
    page.get_by_role("button", name="Score file").click()


@needs_chromium
@pytest.mark.parametrize(
    ("name", "written"),
    [("excel-european", EXCEL_EUROPEAN), ("excel-windows-1252", EXCEL_WINDOWS)],
)
def test_a_spreadsheets_file_is_scored_and_comes_back_as_its_own_rows(
    page, server, model, tmp_path, name, written
):
    body = spreadsheet_csv(table(cohort(model)), **written)
    path = tmp_path / f"{name}.csv"
    path.write_bytes(body)
    upload(page, path)
    assert page.locator("#scored-count").inner_text() == "12"
    preview = page.locator("#preview-table")
    assert preview.locator("tbody tr").first.locator("td").first.inner_text() == "Zoë"
    screenshot(page, f"files-{name}")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download predictions.csv").click()
    downloaded = Path(info.value.path()).read_bytes()
    status, _, direct = request(server.url + "/predictdata" + PAGE_QUERY, body, "text/csv")
    assert status == 200
    assert downloaded == direct
    delimiter = written.get("delimiter", ",")
    rows = list(csv.reader(io.StringIO(downloaded.decode("utf-8-sig")), delimiter=delimiter))
    assert rows[0][:3] == ["id", "gender", "race/ethnicity"] and "math_score" in rows[0]
    assert [r[0] for r in rows[1:7]] == ACCENTED_IDS


@needs_chromium
def test_a_bad_row_has_the_same_number_on_the_page_in_the_api_and_in_score_file(
    page, server, model, tmp_path
):
    found = cohort(model)
    found[1]["id"] = "two\nlines"  # one row of the spreadsheet over two lines of text
    found[6]["lunch"] = "caviar"  # the spreadsheet's row 8
    body = spreadsheet_csv(table(found), **EXCEL_EUROPEAN)
    path = tmp_path / "bad.csv"
    path.write_bytes(body)
    upload(page, path)
    error_table = page.locator("#error-table")
    error_table.wait_for()
    screenshot(page, "files-bad-row")
    cells = error_table.locator("tbody tr").first.locator("td").all_inner_texts()
    assert cells[:2] == ["8", "Lunch"]
    _, _, answer = request(server.url + "/predictdata", body, "text/csv")
    assert b'"row":8,"field":"lunch"' in answer
    with pytest.raises(ScoringStopped, match=r"row 8, column lunch: 'caviar'"):
        score_file(model, path, tmp_path / "out.csv", progress=False)


def sheet_values(body: bytes) -> list[list]:
    openpyxl = pytest.importorskip("openpyxl")
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@needs_chromium
@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_workbook_or_a_csv_file_comes_back_as_a_workbook_too(page, server, model, tmp_path, kind):
    openpyxl = pytest.importorskip("openpyxl")
    rows = table(cohort(model))
    if kind == "xlsx":
        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        path = tmp_path / "class.xlsx"
        book.save(path)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        path = tmp_path / "class.csv"
        path.write_bytes(spreadsheet_csv(rows, **EXCEL_EUROPEAN))
        content_type = "text/csv"
    upload(page, path)
    assert page.locator("#scored-count").inner_text() == "12"
    screenshot(page, f"files-{kind}-scored")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download predictions.xlsx").click()
    assert info.value.suggested_filename == "predictions.xlsx"
    downloaded = sheet_values(Path(info.value.path()).read_bytes())
    status, direct = request_workbook(server, path.read_bytes(), content_type)
    assert status == 200
    assert downloaded == sheet_values(direct)
    assert "math_score" in downloaded[0] and downloaded[1][0] == "Zoë"


def request_workbook(server, body: bytes, content_type: str) -> tuple[int, bytes]:
    import urllib.request

    call = urllib.request.Request(
        server.url + "/predictdata" + PAGE_QUERY, data=body,
        headers={"Content-Type": content_type,
                 "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    )  # fmt: skip
    with urllib.request.urlopen(call, timeout=10) as response:
        return response.status, response.read()
