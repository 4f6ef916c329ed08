"""The web page: its routes in-process, then the page itself in headless Chromium
against the real server."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import datetime
from pathlib import Path

import falcon.testing
import pytest

from server.page import ASSET_CACHE_CONTROL, INDEX_CACHE_CONTROL, STATIC_DIR, add_page_routes
from tests.support.browser import (
    CSV_HEADER,
    GOOD_CSV,
    LABELS,
    fill_student,
    needs_chromium,
    screenshot,
)
from tests.support.http import request
from tests.support.models import STUDENT

# Spreadsheet row 3: an unknown lunch; row 5: a reading score out of range.
BAD_CSV = "\n".join([
    CSV_HEADER,
    "s-1,female,group B,bachelor's degree,standard,none,72,74",
    "s-2,female,group C,some college,caviar,completed,90,88",
    "s-3,male,group A,high school,free/reduced,none,47,44",
    "s-4,male,group C,some college,standard,none,120,75",
]) + "\n"  # fmt: skip


# ---- the routes, in-process --------------------------------------------------


def test_root_serves_the_page_revalidated_on_every_visit(client):
    response = client.simulate_get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == INDEX_CACHE_CONTROL
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.content == (STATIC_DIR / "index.html").read_bytes()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("app.js", "text/javascript; charset=utf-8"), ("style.css", "text/css; charset=utf-8")],
)
def test_assets_have_their_content_type_and_a_short_max_age(client, name, content_type):
    response = client.simulate_get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == ASSET_CACHE_CONTROL
    assert response.headers["x-content-type-options"] == "nosniff"


def test_unchanged_file_is_a_304_without_a_body(client):
    etag = client.simulate_get("/static/app.js").headers["etag"]
    response = client.simulate_get("/static/app.js", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""


def test_unknown_asset_is_a_json_404(client):
    response = client.simulate_get("/static/missing.js")
    assert response.status_code == 404
    assert response.json == {"error": "404 Not Found: no static file named 'missing.js'"}


@pytest.mark.parametrize(
    "path",
    [
        "/static/../page.py",
        "/static/..%2Fpage.py",
        "/static/%2e%2e%2f%2e%2e%2fmodel_store%2FCURRENT",
        "/static/..",
        "/static/page.py",
        "/static/index.html",  # the page has one address: /
    ],
)
def test_nothing_outside_the_assets_is_served(client, path):
    response = client.simulate_get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


def test_files_are_read_once_when_the_app_is_built(tmp_path):
    folder = tmp_path / "static"
    shutil.copytree(STATIC_DIR, folder)
    app = falcon.App()
    add_page_routes(app, folder)
    (folder / "app.js").write_text("changed")
    response = falcon.testing.TestClient(app).simulate_get("/static/app.js")
    assert response.content == (STATIC_DIR / "app.js").read_bytes()


# ---- the page, in Chromium against the real server ----------------------------


@needs_chromium
def test_page_says_when_the_model_was_trained_and_its_typical_error(page, model):
    trained = datetime.fromisoformat(model.metadata["created_at"].replace("Z", "+00:00"))
    info = page.locator("#model-info").inner_text()
    assert info.startswith(
        f"Model trained {trained.day} {trained:%b %Y} · typical error "
        f"±{model.metadata['metrics']['holdout_mae']:.1f} points"
    )
    assert page.locator("#model-version").inner_text() == model.version  # the details line
    assert model.version not in info


@needs_chromium
def test_every_field_has_its_label_and_the_schema_choices(page, model):
    for feature in model.metadata["schema"]["features"]:
        control = page.get_by_label(LABELS[feature["name"]], exact=True)
        if feature["kind"] == "categorical":
            options = control.locator("option").all_inner_texts()
            assert options[1:] == feature["categories"]
        else:
            assert control.get_attribute("min") == str(feature["minimum"])
            assert control.get_attribute("max") == str(feature["maximum"])


@needs_chromium
def test_form_shows_the_same_score_as_the_api(page, server):
    fill_student(page)
    page.get_by_label(LABELS["writing_score"], exact=True).press("Enter")  # keyboard submit
    shown = page.locator("#math-score")
    shown.wait_for()
    _, _, body = request(server.url + "/predictdata", json.dumps(STUDENT).encode())
    assert float(shown.inner_text()) == json.loads(body)["math_score"]
    screenshot(page, "prediction")  # docs/page.png: see test_page_explain.py


@needs_chromium
def test_csv_upload_counts_the_students_and_downloads_their_scores(page, server, tmp_path):
    upload = tmp_path / "students.csv"
    upload.write_text(GOOD_CSV)
    page.get_by_label("CSV or Excel file", exact=True).set_input_files(upload)
    page.get_by_role("button", name="Score file").click()
    assert page.locator("#scored-count").inner_text() == "5"
    screenshot(page, "csv-scored")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download predictions.csv").click()
    download = info.value
    assert download.suggested_filename == "predictions.csv"
    downloaded = Path(download.path()).read_bytes()
    _, _, direct = request(
        server.url + "/predictdata?interval=90&echo=all", GOOD_CSV.encode(), "text/csv"
    )
    assert downloaded == direct  # the user's rows, every column, then the answer's
    rows = list(csv.DictReader(io.StringIO(downloaded.decode())))
    assert list(rows[0])[:2] == ["id", "gender"] and "math_score" in rows[0]
    assert [r["id"] for r in rows] == ["s-1", "s-2", "s-3", "s-4", "s-5"]


@needs_chromium
def test_bad_csv_lists_each_problem_in_a_table(page, tmp_path):
    upload = tmp_path / "bad.csv"
    upload.write_text(BAD_CSV)
    page.get_by_label("CSV or Excel file", exact=True).set_input_files(upload)
    page.get_by_role("button", name="Score file").click()
    table = page.locator("#error-table")
    table.wait_for()
    screenshot(page, "csv-errors")
    assert page.locator(".error-summary").inner_text() == (
        "Nothing was scored. The file has 2 problems. Fix them in your spreadsheet and choose "
        "the file again; start with row 3."
    )
    assert table.locator("th").all_inner_texts() == ["Row", "Column", "Problem"]
    cells = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
    # The spreadsheet's rows (the header is row 1) and the form's labels.
    assert [c[:2] for c in cells] == [["3", "Lunch"], ["5", "Reading score"]]
    assert "'caviar' is not an allowed value" in cells[0][2]
    assert "120 is out of range" in cells[1][2]
