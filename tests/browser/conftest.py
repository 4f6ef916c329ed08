"""Fixtures for the page's tests: the real server (the Procfile's command, serving
a copy of the committed model) and Debian's headless Chromium driven by Playwright.

Playwright's own browser downloads are never used: CI installs `chromium` with apt.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import falcon.testing
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    Route,
    sync_playwright,
)

from model_store.store import ModelStore
from server.app import create_app
from server.config import Settings
from server.keys import configuration_entry
from server.model import ServedModel, load_verified_model
from server.page import add_page_routes
from tests.server.conftest import REPO, RunningServer, copy_committed_store

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = f"{CHROMIUM} is missing: apt-get install chromium (Debian's package)"
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


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory) -> Path:
    return copy_committed_store(tmp_path_factory.mktemp("store")).root


@pytest.fixture(scope="session")
def model(store_dir: Path) -> ServedModel:
    return load_verified_model(ModelStore(store_dir), None, threads=1)


@pytest.fixture
def client(model: ServedModel) -> falcon.testing.TestClient:
    app = create_app(model, Settings())
    add_page_routes(app)
    return falcon.testing.TestClient(app)


@pytest.fixture(scope="session")
def server(store_dir: Path, tmp_path_factory) -> Iterator[RunningServer]:
    """One Gunicorn from the Procfile for every browser test; stopped at the end."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    running = RunningServer(store_dir, log, WEB_CONCURRENCY="1")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def keyed_server(store_dir: Path, tmp_path_factory) -> Iterator[RunningServer]:
    """One Gunicorn from the Procfile that needs an API key; stopped at the end."""
    log = tmp_path_factory.mktemp("keyed-server") / "server.log"
    entry = configuration_entry("browser", API_KEY)
    running = RunningServer(store_dir, log, WEB_CONCURRENCY="1", API_KEY_SHA256S=entry)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    # Each launch gets a fresh, temporary user-data-dir from Playwright (it
    # refuses --user-data-dir in args), deleted when the browser closes.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, server: RunningServer) -> Iterator[Page]:
    """A fresh page on the served `/`, its schema loaded."""
    with watched_page(browser, server) as page:
        page.locator("#predict-button:enabled").wait_for()  # the schema has arrived
        yield page


@pytest.fixture
def keyed_page(browser: Browser, keyed_server: RunningServer) -> Iterator[Page]:
    """A fresh page on the keyed server's `/`, before any key is entered; its
    GET /model may be refused (401) until one is."""
    with watched_page(browser, keyed_server, refusals_allowed=True) as page:
        yield page


@contextmanager
def watched_page(
    browser: Browser, server: RunningServer, refusals_allowed: bool = False
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


def post(url: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    """(status, body) of a POST straight to the server, errors included."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
