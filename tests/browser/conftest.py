"""Fixtures for the page's tests: the real server (the Procfile's command, serving
a copy of the committed model) and Chromium (tests/support/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from benchmarks.launcher import Server
from model_store.store import ModelStore
from server.app import create_app
from server.config import Settings
from server.keys import configuration_entry
from server.model import ServedModel, load_verified_model
from server.page import add_page_routes
from tests.support import servers
from tests.support.browser import API_KEY, CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, watched_page
from tests.support.models import copy_committed_store


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
def server(store_dir: Path, tmp_path_factory) -> Iterator[Server]:
    """One Gunicorn from the Procfile for every browser test; stopped at the end."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    running = servers.start(store_dir, log, WEB_CONCURRENCY="1")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def keyed_server(store_dir: Path, tmp_path_factory) -> Iterator[Server]:
    """One Gunicorn from the Procfile that needs an API key; stopped at the end."""
    log = tmp_path_factory.mktemp("keyed-server") / "server.log"
    entry = configuration_entry("browser", API_KEY)
    running = servers.start(store_dir, log, WEB_CONCURRENCY="1", API_KEY_SHA256S=entry)
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
def page(browser: Browser, server: Server) -> Iterator[Page]:
    """A fresh page on the served `/`, its schema loaded."""
    with watched_page(browser, server) as page:
        page.locator("#predict-button:enabled").wait_for()  # the schema has arrived
        yield page


@pytest.fixture
def keyed_page(browser: Browser, keyed_server: Server) -> Iterator[Page]:
    """A fresh page on the keyed server's `/`, before any key is entered; its
    GET /model may be refused (401) until one is."""
    with watched_page(browser, keyed_server, refusals_allowed=True) as page:
        yield page
