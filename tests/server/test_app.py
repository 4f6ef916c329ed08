"""Health, readiness, the model's metadata, request ids and HTTP-level errors."""

from __future__ import annotations

import logging

import falcon.testing
from msgspec.structs import replace

from server.app import create_app, create_unavailable_app
from server.config import Settings
from server.contract import ServingContract
from server.model import ServedModel
from tests.support.models import STUDENT


def test_health_says_the_process_is_up(client):
    assert client.simulate_get("/health").json == {"status": "ok"}


def test_ready_names_the_served_version(client, model):
    response = client.simulate_get("/ready")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "model_version": model.version}


def test_without_a_model_health_is_up_and_every_other_route_is_one_json_503():
    client = falcon.testing.TestClient(create_unavailable_app(Settings()))
    assert client.simulate_get("/health").json == {"status": "ok"}
    answers = [
        client.simulate_get("/ready"),
        client.simulate_post("/predictdata", json=STUDENT),
        client.simulate_get("/model"),
        client.simulate_get("/openapi.json"),
        client.simulate_get("/"),
        client.simulate_get("/nowhere"),
    ]
    assert {a.status_code for a in answers} == {503}
    assert {a.json["error"] for a in answers} == {"no verified model is loaded; see the server log"}


def test_model_endpoint_shows_schema_metrics_and_version(client, model):
    body = client.simulate_get("/model").json
    assert body["version"] == model.version
    lunch = next(f for f in body["schema"]["features"] if f["name"] == "lunch")
    assert lunch["categories"] == ["free/reduced", "standard"]
    assert {"holdout_r2", "holdout_mae"} <= set(body["metrics"])
    assert "parity_sample" not in body


def test_request_id_is_echoed_when_sent(client):
    response = client.simulate_get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def test_unsafe_request_id_is_replaced(client):
    response = client.simulate_get("/health", headers={"X-Request-ID": "bad id\nforged log line"})
    assert response.headers["x-request-id"] != "bad id\nforged log line"
    assert len(response.headers["x-request-id"]) == 32


def test_wrong_method_is_a_405_saying_what_is_allowed(client):
    response = client.simulate_get("/predictdata")
    assert response.status_code == 405
    assert "POST" in response.json["error"]


def test_unknown_path_is_a_json_404(client):
    response = client.simulate_get("/nowhere")
    assert response.status_code == 404
    assert response.json == {"error": "404 Not Found"}


def test_unsupported_media_type_is_a_415(client):
    response = client.simulate_post(
        "/predictdata", body="a=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert "application/json" in response.json["error"]


def test_compressed_body_is_a_415(client):
    response = client.simulate_post(
        "/predictdata",
        body=b"\x1f\x8b\x08\x00",
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 415
    assert "uncompressed" in response.json["error"]


def test_unexpected_error_is_a_generic_500_logged_with_the_request_id(model, caplog):
    # A real session for a graph whose input the schema misnames: onnxruntime
    # itself fails, as it would on a bug of ours.
    served = model.contract.model
    misnamed = replace(served, input=replace(served.input, name=served.input.name + "_renamed"))
    broken = ServedModel(
        model.version, model.metadata, model.session, ServingContract.build(misnamed)
    )
    client = falcon.testing.TestClient(create_app(broken, Settings()))
    with caplog.at_level(logging.ERROR):
        response = client.simulate_post(
            "/predictdata", json=STUDENT, headers={"X-Request-ID": "req-500"}
        )
    assert response.status_code == 500
    assert response.json == {"error": "internal error; quote request id req-500 when reporting it"}
    assert "request_id=req-500" in caplog.text
    assert "Traceback" not in response.text
