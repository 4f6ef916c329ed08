"""The API tests reuse the server's fixtures (a copy of the committed model)."""

from tests.server.conftest import (  # noqa: F401
    bare_model,
    client,
    model,
    optioned_model,
    optioned_store,
)
