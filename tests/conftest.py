"""Fixtures shared across suites that must exist once per session, so they live at the
root: a session fixture a folder's conftest imports is one instance per folder."""

from tests.support.fixtures import excluded_server  # noqa: F401 (a fixture)
