"""POST /predictdata with JSON, through falcon.testing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_store.onnx_io import build_feeds, predict, records_to_columns
from server.json_input import JsonParser
from tests.support.clients import make_client
from tests.support.models import STUDENT


def post_json(client, payload, **headers):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.simulate_post(
        "/predictdata", body=body, headers={"Content-Type": "application/json", **headers}
    )


def onnx_scores(model, records) -> list[float]:
    feeds = build_feeds(model.metadata, records_to_columns(model.metadata, records))
    return predict(model.session, feeds).tolist()


def test_single_student_gets_a_score_and_the_model_version(client, model):
    response = post_json(client, STUDENT)
    assert response.status_code == 200
    assert response.json["model_version"] == model.version
    assert response.json["math_score"] == pytest.approx(onnx_scores(model, [STUDENT])[0], abs=0.005)
    assert "id" not in response.json


def test_single_student_id_is_echoed(client):
    response = post_json(client, {**STUDENT, "id": "s-17"})
    assert response.json["id"] == "s-17"


def test_bulk_predictions_come_back_in_request_order_with_ids(client, model):
    records = model.metadata["parity_sample"]["records"]
    cohort = [{**r, "id": i} for i, r in enumerate(records)]
    response = post_json(client, cohort)
    assert response.status_code == 200
    body = response.json
    assert body["count"] == len(records)
    assert [p["id"] for p in body["predictions"]] == list(range(len(records)))
    got = [p["math_score"] for p in body["predictions"]]
    np.testing.assert_allclose(got, model.metadata["parity_sample"]["expected"], atol=0.005)


def test_bulk_without_ids_has_no_id_keys(client):
    response = post_json(client, [STUDENT, STUDENT])
    assert all(set(p) == {"math_score"} for p in response.json["predictions"])


def test_empty_array_scores_nothing(client):
    response = post_json(client, [])
    assert response.status_code == 200
    assert response.json["count"] == 0
    assert response.json["predictions"] == []


def test_fields_beyond_the_schema_are_ignored(client):
    plain = post_json(client, STUDENT).json["math_score"]
    extra = post_json(client, {**STUDENT, "math_score": 3, "school": "x", "nested": {"a": [1]}})
    assert extra.status_code == 200
    assert extra.json["math_score"] == plain


def test_integer_and_float_scores_score_alike(client):
    as_float = {**STUDENT, "reading_score": 72.0, "writing_score": 74.0}
    assert (
        post_json(client, as_float).json["math_score"]
        == post_json(client, STUDENT).json["math_score"]
    )


@pytest.mark.parametrize(
    ("change", "field", "message_part"),
    [
        ({"lunch": "caviar"}, "lunch", "allowed: 'free/reduced', 'standard'"),
        ({"gender": 1}, "gender", "expected a string"),
        ({"reading_score": "72"}, "reading_score", "got a string"),
        ({"reading_score": True}, "reading_score", "got a boolean"),
        ({"reading_score": None}, "reading_score", "got null"),
        ({"writing_score": 100.5}, "writing_score", "out of range"),
        ({"writing_score": -1}, "writing_score", "out of range"),
        ({"id": 1.5}, "id", "id must be a string or an integer"),
        ({"id": [1]}, "id", "id must be a string or an integer"),
    ],
)
def test_bad_field_is_a_422_naming_row_and_field(client, change, field, message_part):
    response = post_json(client, {**STUDENT, **change})
    assert response.status_code == 422
    (detail,) = response.json["details"]
    assert detail["row"] == 1
    assert detail["field"] == field
    assert message_part in detail["message"]


def test_a_number_too_large_for_a_float_is_a_422_not_infinity(client):
    body = json.dumps({**STUDENT, "writing_score": 0}).replace(
        '"writing_score": 0', '"writing_score": 1e400'
    )
    (detail,) = post_json(client, body).json["details"]
    assert detail["field"] == "writing_score"
    assert "finite" in detail["message"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_a_422_on_their_field(client, literal):
    body = json.dumps({**STUDENT, "reading_score": 0}).replace(
        '"reading_score": 0', f'"reading_score": {literal}'
    )
    (detail,) = post_json(client, body).json["details"]
    assert (detail["field"], detail["row"]) == ("reading_score", 1)
    assert "finite" in detail["message"]


def test_missing_field_is_named(client):
    student = dict(STUDENT)
    del student["test_preparation_course"]
    (detail,) = post_json(client, student).json["details"]
    assert detail == {
        "row": 1,
        "field": "test_preparation_course",
        "message": "missing field; expected one of 'completed', 'none'",
    }


def test_one_bad_row_in_a_cohort_scores_nothing_and_names_every_problem(client):
    cohort = [STUDENT, {**STUDENT, "lunch": "x", "reading_score": 101}, STUDENT, "not a student"]
    response = post_json(client, cohort)
    assert response.status_code == 422
    assert "predictions" not in response.json
    assert [(d["row"], d["field"]) for d in response.json["details"]] == [
        (2, "lunch"),
        (2, "reading_score"),
        (4, None),
    ]
    assert response.json["total_errors"] == 3


def test_error_details_are_capped_at_100_with_the_total(client):
    response = post_json(client, [{**STUDENT, "lunch": "x"}] * 150)
    assert len(response.json["details"]) == 100
    assert response.json["total_errors"] == 150


@pytest.mark.parametrize(
    "body",
    ['{"gender": "female"', "[1, 2", "nan", b"\xff\xfe\x00", "\x00\x01", "", '{"a": 1}}'],
)
def test_malformed_json_is_a_400(client, body):
    response = post_json(client, body)
    assert response.status_code == 400
    assert response.json["error"].startswith("malformed JSON")


@pytest.mark.parametrize(("body", "kind"), [('"hello"', "a string"), ("42", "a number")])
def test_a_json_scalar_is_a_422_saying_what_to_send(client, body, kind):
    response = post_json(client, body)
    assert response.status_code == 422
    assert response.json["error"] == (
        f"expected a student object or an array of student objects; got {kind}"
    )


def test_deeply_nested_arrays_are_refused_cleanly(client):
    response = post_json(client, "[" * 10_000 + "]" * 10_000)
    assert response.status_code in (400, 422)
    assert "error" in response.json


def test_more_students_than_the_limit_is_a_413(model):
    client = make_client(model, max_rows=3)
    response = post_json(client, [STUDENT] * 4)
    assert response.status_code == 413
    assert "limit is 3" in response.json["error"]


def test_body_over_the_limit_is_a_413(model):
    client = make_client(model, max_body_bytes=100)
    response = post_json(client, [STUDENT] * 3)
    assert response.status_code == 413
    assert "exceeds the limit of 100 bytes" in response.json["error"]


def test_parsed_categories_are_their_codes_however_spelled(model):
    # The model's input holds each category as its index in the contract's categories.
    parser = JsonParser(model.contract, max_rows=10)
    spelled_apart = json.dumps({**STUDENT, "lunch": "standard"}).replace(
        '"standard"', '"st\\u0061ndard"'
    )
    body = f"[{json.dumps({**STUDENT, 'lunch': 'standard'})}, {spelled_apart}]".encode()
    batch = parser.parse(body)
    first, second = batch.columns["lunch"]
    assert first == second == model.contract.model.category_codes("lunch")["standard"]


def test_a_student_scores_the_same_alone_as_in_a_cohort(client, model):
    # Alone or in a cohort, to the last digit, and as onnxruntime's own answer
    # rounded to hundredths.
    records = model.metadata["parity_sample"]["records"][:50]
    cohort = post_json(client, records).json["predictions"]
    alone = [post_json(client, record).json["math_score"] for record in records]
    assert alone == [p["math_score"] for p in cohort]
    expected = np.round(np.asarray(onnx_scores(model, records), dtype=np.float64), 2)
    assert alone == pytest.approx(expected.tolist(), abs=1e-9)
