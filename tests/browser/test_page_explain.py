"""The page's explanation of one score, in headless Chromium against the real server:
the range in plain words, each answer's points as a bar, the baseline they start
from; the interval columns in CSV downloads; the model card's link and GET /model's
details, with and without API keys."""

from __future__ import annotations

import csv
import io
import json
import math
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.support.browser import (
    API_KEY,
    CHROMIUM,
    GOOD_CSV,
    LABELS,
    NO_CHROMIUM,
    enter_key,
    fill_student,
    screenshot,
)

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

SINGLE_QUERY = "?interval=90&explain=true"
# Unlike the reference student in most answers, so most fields move the score.
EXPLAINED = {
    "gender": "male",
    "race_ethnicity": "group E",
    "parental_level_of_education": "high school",
    "lunch": "free/reduced",
    "test_preparation_course": "completed",
    "reading_score": 81,
    "writing_score": 77,
}
INTERVAL_COLUMNS = ["math_score_lower", "math_score_upper", "interval_level"]
CARD_ROUTE_MISSING = "GET /model/card is not served on this branch (serve13 adds it)"


def request(url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    """(status, body) of a request straight to the server, errors included."""
    call = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(call, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def api_answer(server, headers: dict | None = None) -> dict:
    status, body = request(
        server.url + "/predictdata" + SINGLE_QUERY,
        json.dumps(EXPLAINED).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )
    assert status == 200, body
    return json.loads(body)


def explain_on_page(page: Page) -> None:
    fill_student(page, EXPLAINED)
    with page.expect_request(lambda r: "/predictdata" in r.url) as sent:
        page.get_by_role("button", name="Predict math score").click()
    assert sent.value.url.endswith("/predictdata" + SINGLE_QUERY)
    page.locator("#contributions").wait_for()


def shown_points(text: str) -> float:
    return float(text.replace("\u2212", "-"))


def whole(score: float) -> str:
    return str(math.floor(score + 0.5))  # JavaScript's Math.round


@needs_chromium
def test_the_score_comes_with_its_range_in_plain_words(page, server):
    explain_on_page(page)
    answer = api_answer(server)
    sentence = page.locator("#score-range").inner_text()
    assert sentence.startswith(
        f"{whole(answer['math_score'])} — most students like this score between "
        f"{whole(answer['math_score_lower'])} and {whole(answer['math_score_upper'])}"
    )
    assert f"({answer['interval_level']} in 100 of them" in sentence
    assert answer["interval_level"] == 90


@needs_chromium
def test_each_answer_has_a_bar_with_the_form_label_and_the_api_points(page, server):
    explain_on_page(page)
    contributions = api_answer(server)["contributions"]
    rows = page.locator("#contributions tbody tr")
    assert rows.count() == len(EXPLAINED)
    for row in rows.all():
        name = row.get_attribute("data-field")
        points = contributions[name]
        assert row.locator("th").inner_text() == f"{LABELS[name]}: {EXPLAINED[name]}"
        shown = row.locator(".explain-points").inner_text()
        assert shown_points(shown) == points
        if points:  # the sign is in the text, not only in the bar's side or colour
            assert shown[0] == ("+" if points > 0 else "\u2212")
        track = row.locator(".explain-track").bounding_box()
        middle = track["x"] + track["width"] / 2
        bars = row.locator(".explain-bar")
        if points == 0:
            assert bars.count() == 0
            continue
        box = bars.bounding_box()
        edge = box["x"] if points > 0 else box["x"] + box["width"]
        assert abs(edge - middle) <= 1  # grows from the middle line, to its side
    screenshot(page, "explained")  # docs/page.png is a copy of this, made by hand


@needs_chromium
def test_the_bars_are_drawn_to_one_scale(page, server):
    explain_on_page(page)
    contributions = api_answer(server)["contributions"]
    largest = max(contributions, key=lambda name: abs(contributions[name]))
    widths = {}
    for row in page.locator("#contributions tbody tr").all():
        if row.locator(".explain-bar").count():
            widths[row.get_attribute("data-field")] = row.locator(".explain-bar").bounding_box()
    assert set(widths) == {name for name, points in contributions.items() if points}
    for name, box in widths.items():
        expected = abs(contributions[name] / contributions[largest])
        assert box["width"] / widths[largest]["width"] == pytest.approx(expected, abs=0.02)


@needs_chromium
def test_the_points_shown_sum_to_the_score_minus_the_baseline(page, server):
    explain_on_page(page)
    answer = api_answer(server)
    score = float(page.locator("#math-score").inner_text())
    baseline = float(page.locator("#baseline").inner_text())
    points = [shown_points(t) for t in page.locator("#contributions tbody .explain-points")
              .all_inner_texts()]  # fmt: skip
    assert (score, baseline) == (answer["math_score"], answer["baseline"])
    assert sum(points) == pytest.approx(score - baseline, abs=0.005)
    words = page.locator("#baseline-words").inner_text()
    assert words.startswith("A typical student (the reference: ")
    assert f"scores {answer['baseline']:.2f};" in words


@needs_chromium
def test_a_csv_download_has_the_interval_columns(page, server, tmp_path):
    upload = tmp_path / "students.csv"
    upload.write_text(GOOD_CSV)
    with page.expect_request(lambda r: "/predictdata" in r.url) as sent:
        page.get_by_label("CSV or Excel file", exact=True).set_input_files(upload)
        page.get_by_role("button", name="Score file").click()
    assert sent.value.url.endswith("/predictdata?interval=90&report=drift&echo=all")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download predictions.csv").click()
    downloaded = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    status, direct = request(
        server.url + "/predictdata?interval=90&echo=all", GOOD_CSV.encode(),
        {"Content-Type": "text/csv"},
    )  # fmt: skip
    assert status == 200
    expected = list(csv.DictReader(io.StringIO(direct.decode())))
    assert set(INTERVAL_COLUMNS) <= set(downloaded[0])
    assert downloaded == expected
    assert {row["interval_level"] for row in downloaded} == {"90"}


@needs_chromium
def test_the_model_details_are_a_panel_not_a_raw_link(page, model):
    assert page.locator("footer a[href='/model']").count() == 0
    page.get_by_text("The served model's details").click()
    details = json.loads(page.locator("#model-json").inner_text())
    assert details["version"] == model.version
    assert details["options"]["interval"] == [80, 90, 95]


@needs_chromium
def test_the_model_line_links_the_card(page):
    link = page.locator("#model-info").get_by_role("link", name="model card")
    assert link.get_attribute("href") == "/model/card"


@needs_chromium
def test_the_card_link_opens_the_card(page, server):
    if request(server.url + "/model/card")[0] == 404:
        pytest.skip(CARD_ROUTE_MISSING)
    with page.expect_popup() as opened:
        page.get_by_role("link", name="model card").click()
    card = opened.value
    card.wait_for_load_state()
    assert card.title().startswith("Model card")


@needs_chromium
def test_with_a_key_the_explanation_and_the_details_work(keyed_page, keyed_server):
    enter_key(keyed_page, API_KEY)
    keyed_page.locator("#predict-button:enabled").wait_for()
    explain_on_page(keyed_page)
    answer = api_answer(keyed_server, {"Authorization": f"Bearer {API_KEY}"})
    assert float(keyed_page.locator("#baseline").inner_text()) == answer["baseline"]
    keyed_page.get_by_text("The served model's details").click()
    assert json.loads(keyed_page.locator("#model-json").inner_text())["version"]


@needs_chromium
def test_with_a_key_the_card_is_fetched_with_it_and_saved(keyed_page, keyed_server):
    key = {"Authorization": f"Bearer {API_KEY}"}
    status, card = request(keyed_server.url + "/model/card", headers=key)
    if status == 404:
        pytest.skip(CARD_ROUTE_MISSING)
    enter_key(keyed_page, API_KEY)
    keyed_page.locator("#predict-button:enabled").wait_for()
    with keyed_page.expect_request(lambda r: r.url.endswith("/model/card")) as sent:
        with keyed_page.expect_download() as saved:
            keyed_page.get_by_role("link", name="model card").click()
    assert sent.value.headers["authorization"] == key["Authorization"]
    assert Path(saved.value.path()).read_bytes() == card
    assert "saved to your downloads" in keyed_page.locator("#card-note").inner_text()
