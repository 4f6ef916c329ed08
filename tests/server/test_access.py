"""API keys on the routes, in-process: who gets in, and what a refused caller reads."""

from __future__ import annotations

import falcon.testing
import pytest

from server.app import create_app
from server.config import Settings
from server.keys import configuration_entry, parse_key_hashes
from tests.server.conftest import STUDENT

DISTRICT = "district-key-" + "d" * 30
SCHOOL = "school-key-" + "s" * 32
SCRAPER = "scraper-key-" + "p" * 31
API_KEYS = parse_key_hashes(
    f"{configuration_entry('district', DISTRICT)},{configuration_entry('school', SCHOOL)}"
)
METRICS_KEYS = parse_key_hashes(configuration_entry("scraper", SCRAPER))


@pytest.fixture
def keyed(model) -> falcon.testing.TestClient:
    settings = Settings(api_keys=API_KEYS, metrics_keys=METRICS_KEYS)
    return falcon.testing.TestClient(create_app(model, settings))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def predict(client, headers=None):
    return client.simulate_post("/predictdata", json=STUDENT, headers=headers or {})


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "this endpoint needs an API key: send it as 'Authorization: Bearer <key>'"),
        (bearer("not-a-key"), "the API key sent is not valid for /predictdata"),
        ({"X-API-Key": "not-a-key"}, "the API key sent is not valid for /predictdata"),
        ({"Authorization": f"Basic {DISTRICT}"}, "must be 'Bearer <key>'"),
        ({"Authorization": "Bearer"}, "must be 'Bearer <key>'"),
        ({"Authorization": f"Bearer {DISTRICT} extra"}, "must be 'Bearer <key>'"),
        ({"X-API-Key": ""}, "the X-API-Key header is empty"),
        ({**bearer(DISTRICT), "X-API-Key": DISTRICT}, "in one header"),
        (bearer(SCRAPER), "the API key sent is not valid for /predictdata"),
    ],
    ids=["none", "wrong", "wrong-x-api-key", "basic", "empty", "two-words", "empty-x", "both",
         "metrics-only"],
)  # fmt: skip
def test_a_request_without_a_valid_key_is_a_401_saying_how_to_authenticate(keyed, headers, message):
    response = predict(keyed, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="studypredict"'
    assert message in response.json["error"]
    assert set(response.json) == {"error"}


@pytest.mark.parametrize(
    "headers",
    [
        bearer(DISTRICT),
        bearer(SCHOOL),
        {"X-API-Key": DISTRICT},
        {"authorization": f"bearer  {SCHOOL}"},
    ],
    ids=["bearer", "second-key", "x-api-key", "lowercase-scheme"],
)
def test_each_configured_key_scores(keyed, headers):
    response = predict(keyed, headers)
    assert response.status_code == 200
    assert isinstance(response.json["math_score"], float)


@pytest.mark.parametrize("path", ["/model", "/openapi.json"])
def test_the_model_description_needs_a_key(keyed, path):
    assert keyed.simulate_get(path).status_code == 401
    assert keyed.simulate_get(path, headers=bearer(DISTRICT)).status_code == 200


@pytest.mark.parametrize("path", ["/health", "/ready", "/", "/static/app.js"])
def test_the_load_balancers_checks_and_the_page_stay_open(keyed, path):
    assert keyed.simulate_get(path).status_code == 200


def test_metrics_take_their_own_key_set(keyed):
    assert keyed.simulate_get("/metrics").status_code == 401
    assert keyed.simulate_get("/metrics", headers=bearer(DISTRICT)).status_code == 401
    assert keyed.simulate_get("/metrics", headers=bearer(SCRAPER)).status_code == 200


def test_metrics_take_the_api_keys_when_they_have_none_of_their_own(model):
    client = falcon.testing.TestClient(create_app(model, Settings(api_keys=API_KEYS)))
    assert client.simulate_get("/metrics").status_code == 401
    assert client.simulate_get("/metrics", headers=bearer(SCHOOL)).status_code == 200


def test_the_key_name_is_a_metrics_label_and_refusals_are_counted_by_reason(keyed):
    predict(keyed, bearer(SCHOOL))
    predict(keyed, bearer("not-a-key"))
    text = keyed.simulate_get("/metrics", headers=bearer(SCRAPER)).text
    assert 'studypredict_api_key_requests_total{key="school"}' in text
    assert 'studypredict_unauthorized_requests_total{reason="wrong_key"}' in text
    assert SCHOOL not in text


def test_a_refusal_is_counted_under_its_route(keyed):
    predict(keyed)
    text = keyed.simulate_get("/metrics", headers=bearer(SCRAPER)).text
    assert 'endpoint="/predictdata",method="POST",status="401"' in text


def test_without_keys_every_route_is_open(client):
    assert predict(client).status_code == 200
    assert client.simulate_get("/metrics").status_code == 200
    assert client.simulate_get("/model").status_code == 200
