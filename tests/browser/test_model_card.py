"""The model card as a reader sees it: GET /model/card from the real server in headless
Chromium, every section shown with its plots decoded, its styles applied, nothing
fetched and no script able to run under its CSP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route

from benchmarks.launcher import Server
from export.card import SECTIONS
from tests.support.browser import CHROMIUM, NO_CHROMIUM, VIEWPORT, screenshot

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)
CARD = "/model/card"


class Watched:
    """What the card did that it should not: console errors (CSP violations among them),
    page errors, and requests for anything at all beyond the card itself."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.console: list[str] = []
        self.errors: list[str] = []


@pytest.fixture
def watched() -> Watched:
    return Watched()


@pytest.fixture
def card(browser: Browser, server: Server, watched: Watched) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url, viewport=VIEWPORT)

    def record(route: Route) -> None:
        if not route.request.url.endswith(CARD):
            watched.requests.append(route.request.url)
        route.continue_()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.console.append(message.text)

    try:
        context.route("**/*", record)
        page = context.new_page()
        page.on("console", console)
        page.on("pageerror", lambda error: watched.errors.append(str(error)))
        response = page.goto(CARD)
        assert response is not None and response.status == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        yield page
    finally:
        context.close()


def test_every_section_is_shown_with_its_heading(card: Page, watched: Watched):
    for key, title in SECTIONS.items():
        section = card.locator(f"section#{key}")
        assert section.is_visible(), key
        assert section.locator("h2").inner_text() == title
    screenshot(card, "model-card")  # docs/model-card.png is a copy of this, made by hand
    assert watched.requests == [] and watched.console == [] and watched.errors == []


def test_the_plots_are_decoded_and_the_styles_applied(card: Page, watched: Watched):
    images = card.locator("img")
    assert images.count() >= 2  # predicted vs actual, residuals by group
    for i in range(images.count()):
        width = images.nth(i).evaluate("img => img.complete ? img.naturalWidth : 0")
        assert width > 100, f"image {i} did not decode (CSP img-src data: refused?)"
    # The inline <style>: body is 60em wide at 15px, tables collapse their borders.
    assert card.evaluate("getComputedStyle(document.body).maxWidth") == "900px"
    assert card.evaluate("getComputedStyle(document.querySelector('table')).borderCollapse") == (
        "collapse"
    )
    assert watched.console == [] and watched.errors == []


def test_no_script_can_run_in_the_card(card: Page, watched: Watched):
    # An injected inline script, as a stored value breaking out of the HTML would be.
    card.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
        }"""
    )
    assert card.evaluate("window.injected === undefined")
    assert [m for m in watched.console if "Content Security Policy" in m]
