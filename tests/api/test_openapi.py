"""GET /openapi.json: a valid OpenAPI 3.1 document that matches what the server does."""

from __future__ import annotations

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.server.conftest import STUDENT


@pytest.fixture
def spec(client) -> dict:
    response = client.simulate_get("/openapi.json")
    assert response.status_code == 200
    return response.json


def component(spec: dict, name: str) -> dict:
    """A component schema with its $refs resolvable against the whole document."""
    return {**spec["components"]["schemas"][name], "components": spec["components"]}


def test_document_is_valid_openapi_3_1(spec):
    validate(spec)
    assert spec["openapi"] == "3.1.0"


def test_enums_and_bounds_come_from_the_served_model(spec, model):
    properties = spec["components"]["schemas"]["Student"]["properties"]
    for feature in model.metadata["schema"]["features"]:
        if feature["kind"] == "categorical":
            assert properties[feature["name"]]["enum"] == sorted(feature["categories"])
        else:
            assert properties[feature["name"]]["maximum"] == feature["maximum"]
    assert spec["info"]["version"] == model.version


def test_every_route_is_documented(spec):
    assert set(spec["paths"]) == {
        "/predictdata", "/health", "/ready", "/model", "/metrics", "/openapi.json",
        "/", "/static/{name}",
    }  # fmt: skip


def test_real_responses_match_their_schemas(client, spec):
    single = client.simulate_post("/predictdata", json=STUDENT).json
    bulk = client.simulate_post("/predictdata", json=[{**STUDENT, "id": 1}, STUDENT]).json
    error = client.simulate_post("/predictdata", json={**STUDENT, "lunch": "x"}).json
    jsonschema.validate(single, component(spec, "SinglePrediction"))
    jsonschema.validate(bulk, component(spec, "BulkPrediction"))
    jsonschema.validate(error, component(spec, "Error"))
    jsonschema.validate(STUDENT, component(spec, "Student"))


def test_the_schema_rejects_what_the_server_rejects(spec):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**STUDENT, "lunch": "caviar"}, component(spec, "Student"))


def test_the_documented_csv_example_is_accepted(client, spec):
    content = spec["paths"]["/predictdata"]["post"]["requestBody"]["content"]["text/csv"]
    response = client.simulate_post(
        "/predictdata", body=content["example"], headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200
    assert response.text.startswith("id,math_score\ns-1,")
