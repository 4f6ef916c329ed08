"""The page for a version trained without gender and race: its form asks only for the
fields that version uses, and it scores a student and a file without them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from benchmarks.launcher import Server
from tests.support.browser import (
    GOOD_CSV,
    LABELS,
    fill_student,
    needs_chromium,
    screenshot,
    watched_page,
)
from tests.support.excluded import EXCLUDED
from tests.support.http import request
from tests.support.models import STUDENT

KEPT = {name: value for name, value in STUDENT.items() if name not in EXCLUDED}


@pytest.fixture
def excluded_page(browser: Browser, excluded_server: Server) -> Iterator[Page]:
    with watched_page(browser, excluded_server) as page:
        page.locator("#predict-button:enabled").wait_for()  # the schema has arrived
        yield page


@needs_chromium
def test_the_form_asks_only_for_the_fields_the_version_uses(excluded_page):
    for name in EXCLUDED:
        assert excluded_page.get_by_label(LABELS[name], exact=True).count() == 0
    for name in KEPT:
        assert excluded_page.get_by_label(LABELS[name], exact=True).count() == 1


@needs_chromium
def test_one_student_is_scored_without_the_excluded_fields(excluded_page, excluded_server):
    fill_student(excluded_page, KEPT)
    with excluded_page.expect_response(lambda r: "/predictdata" in r.url) as answered:
        excluded_page.get_by_role("button", name="Predict math score").click()
    assert answered.value.status == 200
    status, _, body = request(excluded_server.url + "/predictdata", json.dumps(KEPT).encode())
    assert status == 200
    expected = json.loads(body)["math_score"]
    excluded_page.get_by_text(f"{expected:.2f}", exact=False).first.wait_for()
    screenshot(excluded_page, "excluded-features")


@needs_chromium
def test_a_file_with_the_excluded_columns_still_scores(excluded_page, tmp_path):
    upload = tmp_path / "students.csv"
    upload.write_text(GOOD_CSV)  # it has gender and race columns: ignored
    with excluded_page.expect_response(lambda r: "/predictdata" in r.url) as answered:
        excluded_page.get_by_label("CSV or Excel file", exact=True).set_input_files(upload)
        excluded_page.get_by_role("button", name="Score file").click()
    assert answered.value.status == 200
    excluded_page.get_by_role("link", name="Download predictions.csv").wait_for()
