"""The OpenAPI document and API keys: both schemes declared, each guarded route's 401
documented, and a key required exactly where this server requires one."""

from __future__ import annotations

import falcon.testing
import pytest
from openapi_spec_validator import validate

from server.access import OPEN_ROUTES
from server.app import create_app
from server.config import Settings
from server.keys import configuration_entry, parse_key_hashes
from tests.support.openapi import assert_documented

KEY = "openapi-reader-key-" + "o" * 30
KEYS = parse_key_hashes(configuration_entry("reader", KEY))
SCHEMES = [{"bearer": []}, {"apiKey": []}]


@pytest.fixture
def keyed(model) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(model, Settings(api_keys=KEYS)))


@pytest.fixture
def keyed_spec(keyed) -> dict:
    return keyed.simulate_get("/openapi.json", headers={"X-API-Key": KEY}).json


def operations(spec: dict, guarded: bool):
    for path, methods in spec["paths"].items():
        if (path not in OPEN_ROUTES) == guarded:
            yield from ((path, operation) for operation in methods.values())


def test_the_keyed_document_is_valid_openapi_with_both_schemes(keyed_spec):
    validate(keyed_spec)
    schemes = keyed_spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}


def test_with_keys_every_guarded_route_requires_one_and_documents_its_401(keyed_spec):
    guarded = list(operations(keyed_spec, guarded=True))
    assert {path for path, _ in guarded} >= {"/predictdata", "/model", "/model/card", "/metrics"}
    for path, operation in guarded:
        assert operation["security"] == SCHEMES, path
        assert "401" in operation["responses"], path


def test_the_open_routes_take_no_key(keyed_spec):
    for path, operation in operations(keyed_spec, guarded=False):
        assert "security" not in operation, path
        assert "401" not in operation["responses"], path


def test_without_keys_a_key_is_optional_and_the_401_is_conditional(client):
    spec = client.simulate_get("/openapi.json").json
    validate(spec)
    for path, operation in operations(spec, guarded=True):
        assert operation["security"] == [*SCHEMES, {}], path
        assert "when the server requires keys" in operation["responses"]["401"]["description"]


def test_the_401_a_caller_gets_is_the_documented_one(keyed, keyed_spec):
    response = keyed.simulate_get("/model/card")
    assert response.status_code == 401
    assert_documented(keyed_spec, "/model/card", "get", response)
