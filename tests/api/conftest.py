"""Fixtures for the OpenAPI tests: the committed model, in-process."""

from tests.support.fixtures import bare_model, client, model  # noqa: F401
