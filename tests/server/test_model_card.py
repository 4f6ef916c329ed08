"""GET /model/card and what GET /model adds for a district's review: the card as
published, under its own strict CSP, behind a key like /model, and documented."""

from __future__ import annotations

import os

import falcon.testing
import pytest

from model_store.store import CARD_FILE, DEFAULT_ROOT, IntegrityError, ModelStore
from server.app import create_app
from server.config import Settings
from server.keys import configuration_entry, parse_key_hashes
from server.model import load_verified_model
from server.resources import CARD_SECURITY_POLICY
from tests.support.clients import make_client

KEY = "card-reader-key-" + "c" * 30
KEYS = parse_key_hashes(configuration_entry("reviewer", KEY))


def test_the_card_is_the_published_file_as_utf8_html(client, model):
    response = client.simulate_get("/model/card")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == ModelStore(DEFAULT_ROOT).card(model.version)  # the copy's source


def test_the_card_may_show_inline_styles_and_images_but_run_and_fetch_nothing(client):
    headers = client.simulate_get("/model/card").headers
    policy = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["img-src"] == "data:"
    assert policy["style-src"] == "'unsafe-inline'"
    assert "script-src" not in policy  # so default-src 'none' forbids every script
    assert policy["frame-ancestors"] == "'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == CARD_SECURITY_POLICY


def test_a_version_without_a_card_is_a_json_404_saying_so(bare_model):
    response = make_client(bare_model).simulate_get("/model/card")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    message = response.json["error"]
    assert f"version {bare_model.version} has no model card" in message
    assert "python -m export" in message


def test_the_model_says_where_its_card_is(client, bare_model):
    assert client.simulate_get("/model").json["model_card"] == "/model/card"
    assert make_client(bare_model).simulate_get("/model").json["model_card"] is None


def test_the_model_shows_group_errors_and_excluded_features(client, model):
    body = client.simulate_get("/model").json
    assert body["group_errors"] == model.metadata["group_errors"]
    female = body["group_errors"]["holdout"]["gender"]["female"]
    assert set(female) == {"count", "mae", "bias"}
    assert body["excluded_features"] == []
    assert body["exclusion_cost"] == model.metadata["exclusion_cost"]


def test_an_altered_card_refuses_the_version(store: ModelStore):
    path = store.root / "versions" / store.current_version() / CARD_FILE
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes().replace(b"Model card", b"Tampered card", 1))
    with pytest.raises(IntegrityError, match="altered or corrupted"):
        load_verified_model(store, None, threads=1)


def test_the_card_needs_a_key_like_the_model(model):
    keyed = falcon.testing.TestClient(create_app(model, Settings(api_keys=KEYS)))
    assert keyed.simulate_get("/model/card").status_code == 401
    answer = keyed.simulate_get("/model/card", headers={"X-API-Key": KEY})
    assert answer.status_code == 200
    assert answer.text.startswith("<!doctype html>")


def test_the_card_and_the_model_are_documented(client):
    paths = client.simulate_get("/openapi.json").json["paths"]
    card = paths["/model/card"]["get"]["responses"]
    assert set(card["200"]["content"]) == {"text/html"}
    assert "404" in card
    model = paths["/model"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"group_errors", "excluded_features", "exclusion_cost", "model_card"} <= set(
        model["properties"]
    )
