"""GET /openapi.json: a valid OpenAPI 3.1 document that matches what the server does."""

from __future__ import annotations

import falcon.testing
import jsonschema
import msgspec
import pytest
from msgspec.structs import replace
from openapi_spec_validator import validate

from server.app import create_app, create_unavailable_app
from server.config import Settings
from server.contract import ServingContract, Status
from server.drift import DriftReport, FieldDrift
from server.drift_resource import DriftAnswer, RecentDrift
from server.errors import MAX_REPORTED_ERRORS, ErrorAnswer, FieldError
from server.model import ServedModel
from tests.support.clients import make_client
from tests.support.models import STUDENT
from tests.support.openapi import assert_documented, with_components


@pytest.fixture
def spec(client) -> dict:
    response = client.simulate_get("/openapi.json")
    assert response.status_code == 200
    return response.json


def test_document_is_valid_openapi_3_1(spec):
    validate(spec)
    assert spec["openapi"] == "3.1.0"


def test_enums_and_bounds_come_from_the_served_model(spec, model):
    properties = spec["components"]["schemas"]["Student"]["properties"]
    for feature in model.contract.model.features:
        if hasattr(feature, "categories"):
            assert properties[feature.name]["enum"] == sorted(feature.categories)
        else:
            assert properties[feature.name]["maximum"] == feature.maximum
    assert spec["info"]["version"] == model.version


def test_the_error_list_limit_is_the_one_enforced(spec):
    details = spec["components"]["schemas"]["ErrorAnswer"]["properties"]["details"]
    assert details["maxItems"] == MAX_REPORTED_ERRORS


def test_every_route_is_documented(spec):
    assert set(spec["paths"]) == {
        "/predictdata", "/health", "/ready", "/model", "/model/card", "/drift", "/metrics",
        "/openapi.json", "/", "/static/{name}",
    }  # fmt: skip


def test_the_drift_report_is_documented_where_it_is_answered(spec):
    schemas = spec["components"]["schemas"]
    assert "drift" in schemas["BulkPrediction"]["properties"]
    assert "drift" in schemas["SinglePrediction"]["properties"]
    (report,) = (
        p for p in spec["paths"]["/predictdata"]["post"]["parameters"] if p["name"] == "report"
    )
    assert report["schema"]["anyOf"][0]["enum"] == ["drift"]
    answer = spec["paths"]["/drift"]["get"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"] == {"$ref": "#/components/schemas/DriftAnswer"}
    verdicts = schemas["FieldDrift"]["properties"]["verdict"]["enum"]
    assert set(verdicts) == {"drift", "no drift detected", "too few students to tell"}


def test_every_property_in_the_document_is_a_field_of_its_type(spec, model):
    contract = model.contract
    types = [
        contract.student, contract.prediction, contract.single, contract.bulk,
        contract.contributions, ErrorAnswer, FieldError, Status,
        DriftAnswer, DriftReport, RecentDrift, FieldDrift,
    ]  # fmt: skip
    by_name = {t.__name__: t for t in types}
    components = spec["components"]["schemas"]
    assert set(components) == set(by_name)
    for name, schema in components.items():
        fields = {f.encode_name for f in msgspec.structs.fields(by_name[name])}
        assert set(schema["properties"]) == fields, name


def test_successful_answers_match_the_document(client, spec):
    single = client.simulate_post("/predictdata", json={**STUDENT, "id": "s-1"})
    bulk = client.simulate_post("/predictdata", json=[{**STUDENT, "id": 1}, STUDENT])
    empty = client.simulate_post("/predictdata", json=[])
    reported = client.simulate_post("/predictdata", json=[STUDENT] * 20, params={"report": "drift"})
    for response in (single, bulk, empty, reported):
        assert response.status_code == 200
        assert_documented(spec, "/predictdata", "post", response)
    assert reported.json["drift"]["students"] == 20
    assert single.json["id"] == "s-1"
    for path in ("/health", "/ready", "/model", "/drift", "/openapi.json"):
        assert_documented(spec, path, "get", client.simulate_get(path))


def test_the_documented_csv_example_is_accepted(client, spec):
    content = spec["paths"]["/predictdata"]["post"]["requestBody"]["content"]["text/csv"]
    response = client.simulate_post(
        "/predictdata", body=content["example"], headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200
    assert_documented(spec, "/predictdata", "post", response)
    assert response.text.startswith("id,math_score\ns-1,")


def test_every_error_status_matches_the_document(client, model, spec):
    small = make_client(model, max_body_bytes=100)
    broken = falcon.testing.TestClient(create_app(_broken(model), Settings()))
    unavailable = falcon.testing.TestClient(create_unavailable_app(Settings()))
    answers = {
        400: client.simulate_post("/predictdata", body="{", content_type="application/json"),
        413: small.simulate_post("/predictdata", json=[STUDENT] * 3),
        415: client.simulate_post("/predictdata", body="x", content_type="text/plain"),
        422: client.simulate_post("/predictdata", json=[{**STUDENT, "lunch": "x"}] * 150),
        500: broken.simulate_post("/predictdata", json=STUDENT),
        503: unavailable.simulate_post("/predictdata", json=STUDENT),
    }
    for status, response in answers.items():
        assert response.status_code == status
        assert_documented(spec, "/predictdata", "post", response)
    assert len(answers[422].json["details"]) == MAX_REPORTED_ERRORS
    assert_documented(spec, "/ready", "get", unavailable.simulate_get("/ready"))


def test_answers_with_every_option_match_the_document(client, spec):
    query = "interval=90&explain=true"
    single = client.simulate_post("/predictdata", json=STUDENT, query_string=query)
    bulk = client.simulate_post("/predictdata", json=[STUDENT, STUDENT], query_string=query)
    refused = client.simulate_post("/predictdata", json=STUDENT, query_string="interval=85")
    for response in (single, bulk, refused):
        assert_documented(spec, "/predictdata", "post", response)
    assert {"math_score_lower", "contributions", "baseline"} <= set(single.json)
    assert refused.status_code == 422


def test_the_options_are_documented_with_the_models_levels(bare_model, spec):
    def options(document: dict) -> dict:
        parameters = document["paths"]["/predictdata"]["post"]["parameters"]
        return {p["name"]: p["schema"] for p in parameters if p["in"] == "query"}

    optioned = options(spec)  # the committed model carries intervals and a reference
    assert set(optioned) == {"interval", "explain", "echo", "report"}
    assert {"enum": [80, 90, 95]} in optioned["interval"]["anyOf"]
    assert optioned["explain"]["type"] == "boolean"
    assert {"enum": ["all"]} in optioned["echo"]["anyOf"]
    bare = options(make_client(bare_model).simulate_get("/openapi.json").json)
    assert bare["interval"]["type"] == "null"  # a model without intervals offers no level


def test_the_schema_rejects_what_the_server_rejects(spec):
    student = with_components(spec, spec["components"]["schemas"]["Student"])
    jsonschema.validate(STUDENT, student)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**STUDENT, "lunch": "caviar"}, student)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**STUDENT, "reading_score": 101}, student)


def _broken(model: ServedModel) -> ServedModel:
    """A model whose contract names an input the graph lacks: onnxruntime fails, a 500."""
    served = model.contract.model
    contract = ServingContract.build(
        replace(served, input=replace(served.input, name=served.input.name + "_x"))
    )
    return ServedModel(model.version, model.metadata, model.session, contract)
