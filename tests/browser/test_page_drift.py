"""The page's drift report after a CSV upload, in headless Chromium against the real
server serving the committed model (its drift reference is its training split's)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from playwright.sync_api import Page

from tests.support.browser import CHROMIUM, NO_CHROMIUM, screenshot
from tests.support.http import request
from train.synthetic import generate

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

COHORT = 300
FIELD = "parental_level_of_education"
VALUE = "some high school"


def cohort_csv(tripled: bool, seed: int) -> str:
    """Students from the training generator; `tripled` makes three times as many of
    them have parents with some high school as the training split has."""
    students = generate(rows=COHORT, seed=seed)
    if tripled:
        others = np.flatnonzero(students[FIELD].to_numpy() != VALUE)
        wanted = round(3 * (students[FIELD] == VALUE).mean() * COHORT)
        missing = wanted - int((students[FIELD] == VALUE).sum())
        students.loc[students.index[others[:missing]], FIELD] = VALUE
    return students.drop(columns="math_score").to_csv(index=False)


def upload(page: Page, tmp_path, text: str) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text(text)
    with page.expect_request(lambda r: "/predictdata" in r.url) as sent:
        page.get_by_label("CSV or Excel file", exact=True).set_input_files(path)
        page.get_by_role("button", name="Score file").click()
    assert "report=drift" in sent.value.url
    page.locator("#drift-report").wait_for()


def server_report(server, text: str) -> dict:
    """The drift report the server makes of the same file, as JSON."""
    rows = text.splitlines()
    header = rows[0].split(",")
    records = [dict(zip(header, line.split(","), strict=True)) for line in rows[1:]]
    for record in records:
        for name in ("reading_score", "writing_score"):
            record[name] = float(record[name])
    status, _, body = request(
        server.url + "/predictdata?report=drift", json.dumps(records).encode(), "application/json"
    )
    assert status == 200, body
    return json.loads(body)["drift"]


@needs_chromium
def test_a_shifted_cohort_is_described_in_plain_words(page, server, tmp_path):
    text = cohort_csv(tripled=True, seed=7)
    assert FIELD in server_report(server, text)["flagged"]
    upload(page, tmp_path, text)
    assert page.locator("#scored-count").inner_text() == str(COHORT)
    words = page.locator("#drift-words").inner_text()
    assert words.startswith("This cohort is unlike the students the model learned from")
    item = page.locator(f'#drift-summaries li[data-field="{FIELD}"]').inner_text()
    assert item.startswith("This cohort has three times as many students whose parents")
    assert f"education is {VALUE} as the training data" in item
    screenshot(page, "csv-drift")


@needs_chromium
def test_a_cohort_like_the_training_data_is_called_unremarkable(page, server, tmp_path):
    text = cohort_csv(tripled=False, seed=7)
    assert server_report(server, text)["flagged"] == []
    upload(page, tmp_path, text)
    words = page.locator("#drift-words").inner_text()
    assert words == (
        "Nothing is unusual about this cohort: it looks like the students the model learned from."
    )
    assert page.locator("#drift-summaries").count() == 0


@needs_chromium
def test_a_handful_of_students_is_too_few_to_compare(page, tmp_path):
    upload(page, tmp_path, generate(rows=3, seed=7).drop(columns="math_score").to_csv(index=False))
    assert page.locator("#drift-words").inner_text() == (
        "3 students are too few to compare with the students the model learned from."
    )
