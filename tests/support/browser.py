"""Debian's headless Chromium driven by Playwright, and what the page's tests share:
the labels a user reads, a watched page that fails the test on any error, screenshots.

Playwright's own browser downloads are never used: CI installs `chromium` with apt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response, Route

from benchmarks.launcher import Server
from tests.support.models import REPO, STUDENT

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = f"{CHROMIUM} is missing: apt-get install chromium (Debian's package)"
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)
ARTIFACTS = REPO / "test-artifacts" / "browser"
# Headless, and nothing that reaches beyond the machine: no sandbox (containers
# lack the namespaces it needs), no GPU, no update, sync or first-run traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1024, "height": 800}
# The key the keyed server accepts (it is configured with its hash only).
API_KEY = "browser-test-key-" + "k" * 30


# The form's labels, as a user reads them.
LABELS = {
    "gender": "Gender",
    "race_ethnicity": "Race/ethnicity",
    "parental_level_of_education": "Parental level of education",
    "lunch": "Lunch",
    "test_preparation_course": "Test preparation course",
    "reading_score": "Reading score",
    "writing_score": "Writing score",
}


# The public data set's header spelling (spaces, a slash), with an id column.
CSV_HEADER = (
    "id,gender,race/ethnicity,parental level of education,lunch,"
    "test preparation course,reading score,writing score"
)
GOOD_CSV = "\n".join([
    CSV_HEADER,
    "s-1,female,group B,bachelor's degree,standard,none,72,74",
    "s-2,female,group C,some college,standard,completed,90,88",
    "s-3,male,group A,high school,free/reduced,none,47,44",
    "s-4,male,group C,some college,standard,none,78,75",
    "s-5,female,group D,master's degree,free/reduced,completed,66,70",
]) + "\n"  # fmt: skip


@contextmanager
def watched_page(
    browser: Browser, server: Server, refusals_allowed: bool = False
) -> Iterator[Page]:
    """A fresh page (its own context: own sessionStorage) on the served `/`. Fails the
    test if the page throws, logs an error (a CSP violation too), fails to GET a file
    (a 401 on GET /model aside, if `refusals_allowed`), or asks for anything not on
    our server (the page must work offline)."""
    context: BrowserContext = browser.new_context(
        base_url=server.url, viewport=VIEWPORT, accept_downloads=True
    )
    problems: list[str] = []

    def refuse_offsite(route: Route) -> None:
        problems.append(f"request off the server: {route.request.url}")
        route.abort()

    def failed_get(response: Response) -> None:
        # Refused POSTs are what some tests want; a file of the page must not fail.
        refusal = refusals_allowed and response.status == 401 and response.url.endswith("/model")
        if response.status >= 400 and response.request.method == "GET" and not refusal:
            problems.append(f"GET {response.url}: {response.status}")

    def console_error(message: ConsoleMessage) -> None:
        # Chromium logs every HTTP error status too: failed_get judges those.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console: {message.text}")

    try:
        context.route(lambda url: not url.startswith(server.url), refuse_offsite)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("response", failed_get)
        page.on("console", console_error)
        response = page.goto("/")
        assert response is not None and response.ok, (
            "GET / is not the page: create_app must call server.page.add_page_routes(app)"
        )
        yield page
    finally:
        context.close()
    assert not problems, problems


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page to test-artifacts/browser/<name>.png (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def enter_key(page: Page, key: str) -> None:
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Use this key").click()


def fill_student(page: Page, student: dict = STUDENT) -> None:
    """Set each field of `student` in the form, found by the form's label."""
    for name, value in student.items():
        control = page.get_by_label(LABELS[name], exact=True)
        if isinstance(value, str):
            control.select_option(value)
        else:
            control.fill(str(value))
