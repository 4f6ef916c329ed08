"""Fixtures for the API tests: the committed model, in-process (the server on a version
trained without gender and race comes from tests/conftest.py)."""

from tests.support.fixtures import bare_model, client, model  # noqa: F401
