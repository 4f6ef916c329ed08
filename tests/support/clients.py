"""The real app in-process, for tests that need no Gunicorn."""

from __future__ import annotations

import falcon.testing

from server.app import create_app
from server.config import Settings
from server.model import ServedModel


def make_client(model: ServedModel, **limits) -> falcon.testing.TestClient:
    """A test client of the app serving `model`; `limits` are Settings fields."""
    return falcon.testing.TestClient(create_app(model, Settings(**limits)))
