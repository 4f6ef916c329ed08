"""The page on a server that needs an API key, in headless Chromium: it asks for the
key, keeps it for the tab only, sends it as a header, and says plainly when it is wrong.
And the page's own security headers, in-process."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, Request

from tests.browser.conftest import API_KEY, CHROMIUM, NO_CHROMIUM, screenshot, watched_page
from tests.browser.test_page import LABELS
from tests.server.conftest import STUDENT

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)


def test_the_page_has_its_security_headers_beside_the_csp(client):
    headers = client.simulate_get("/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def enter_key(page: Page, key: str) -> None:
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Use this key").click()


def fill_student(page: Page) -> None:
    for name, value in STUDENT.items():
        control = page.get_by_label(LABELS[name], exact=True)
        if isinstance(value, str):
            control.select_option(value)
        else:
            control.fill(str(value))


@needs_chromium
def test_the_page_asks_for_a_key_and_keeps_the_form_closed_until_then(keyed_page):
    keyed_page.get_by_label("API key", exact=True).wait_for()
    assert "needs an API key" in keyed_page.locator("#model-info").inner_text()
    assert keyed_page.locator("#key-message").is_hidden()  # asked, not yet refused
    assert keyed_page.locator("#predict-button").is_disabled()
    screenshot(keyed_page, "key-asked")


@needs_chromium
def test_a_wrong_key_gets_a_plain_message(keyed_page):
    enter_key(keyed_page, "not-the-key")
    message = keyed_page.locator("#key-message")
    message.wait_for()
    assert message.inner_text().startswith("That API key was not accepted.")
    assert keyed_page.locator("#predict-button").is_disabled()
    assert keyed_page.evaluate("sessionStorage.length") == 0  # a refused key is not kept
    screenshot(keyed_page, "key-refused")


@needs_chromium
def test_with_the_key_the_page_scores_sending_it_as_a_header(keyed_page, keyed_server):
    sent: list[Request] = []
    keyed_page.on("request", lambda r: sent.append(r) if "/predictdata" in r.url else None)
    enter_key(keyed_page, API_KEY)
    keyed_page.locator("#predict-button:enabled").wait_for()
    assert keyed_page.locator("#key-section").is_hidden()
    fill_student(keyed_page)
    keyed_page.get_by_role("button", name="Predict math score").click()
    shown = keyed_page.locator("#math-score")
    shown.wait_for()
    (request,) = sent
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert json.loads(request.post_data) == STUDENT
    screenshot(keyed_page, "key-scored")


@needs_chromium
def test_the_key_lasts_as_long_as_the_tab(keyed_page, browser, keyed_server):
    enter_key(keyed_page, API_KEY)
    keyed_page.locator("#predict-button:enabled").wait_for()
    assert keyed_page.evaluate("Object.keys(localStorage).length") == 0
    keyed_page.reload()  # the same tab: the key is still there
    keyed_page.locator("#predict-button:enabled").wait_for()
    assert keyed_page.locator("#key-section").is_hidden()
    with watched_page(browser, keyed_server, refusals_allowed=True) as other_tab:
        other_tab.get_by_label("API key", exact=True).wait_for()  # asked again


@needs_chromium
def test_a_key_withdrawn_while_the_page_is_open_asks_for_it_again(keyed_page):
    enter_key(keyed_page, API_KEY)
    keyed_page.locator("#predict-button:enabled").wait_for()
    keyed_page.evaluate("sessionStorage.setItem('studypredict.apiKey', 'withdrawn-key')")
    fill_student(keyed_page)
    keyed_page.get_by_role("button", name="Predict math score").click()
    keyed_page.locator("#key-message").wait_for()
    assert "no longer accepts the API key" in keyed_page.locator("#key-message").inner_text()
    summary = keyed_page.locator("#single-result .error-summary").inner_text()
    assert "needs a valid API key" in summary
    enter_key(keyed_page, API_KEY)  # the form keeps what was filled in
    keyed_page.locator("#key-section").wait_for(state="hidden")
    keyed_page.get_by_role("button", name="Predict math score").click()
    keyed_page.locator("#math-score").wait_for()
