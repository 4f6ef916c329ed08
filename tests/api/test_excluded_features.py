"""A version trained without gender and race, served end to end: trained and published
by the real CLIs into temporary folders, served by the Procfile's Gunicorn, and asked
as a caller would. It needs neither field, ignores them when sent, and says so."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from benchmarks.launcher import Server
from model_store.store import ModelStore
from tests.support import servers
from tests.support.excluded import EXCLUDED, publish_excluded
from tests.support.http import predict, request
from tests.support.models import STUDENT

CSV = "text/csv"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ModelStore:
    """A version trained without gender and race, published to a temporary store."""
    return publish_excluded(tmp_path_factory.mktemp("excluded"))


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    running = servers.start(store.root, tmp_path_factory.mktemp("log") / "server.log")
    try:
        running.wait_ready(timeout=60)
        yield running
    finally:
        running.stop()


def without(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in EXCLUDED}


def csv_body(records: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def post_csv(server: Server, body: bytes) -> tuple[int, str]:
    status, _, answer = request(server.url + "/predictdata", body, CSV)
    return status, answer.decode()


def csv_scores(text: str) -> list[float]:
    return [float(row["math_score"]) for row in csv.DictReader(io.StringIO(text))]


COHORT = [
    without(STUDENT),
    {**without(STUDENT), "lunch": "free/reduced", "reading_score": 40, "writing_score": 35},
    {**without(STUDENT), "test_preparation_course": "completed", "reading_score": 91},
]


def test_the_model_shows_what_it_was_trained_without(server):
    status, _, body = request(server.url + "/model")
    info = json.loads(body)
    assert status == 200
    assert sorted(info["excluded_features"]) == sorted(EXCLUDED)
    served = {f["name"] for f in info["schema"]["features"]}
    assert served.isdisjoint(EXCLUDED) and len(served) == 5
    assert info["exclusion_cost"]["without"]["holdout_mae"] == info["metrics"]["holdout_mae"]


def test_json_scores_a_student_without_the_excluded_fields(server):
    status, answer = predict(server, without(STUDENT))
    assert status == 200
    assert 0 <= answer["math_score"] <= 100


def test_json_ignores_the_excluded_fields_when_sent(server):
    _, plain = predict(server, COHORT)
    for gender, group in [("female", "group A"), ("male", "group E")]:
        sent = [{**r, "gender": gender, "race_ethnicity": group} for r in COHORT]
        status, answer = predict(server, sent)
        assert status == 200
        assert answer["predictions"] == plain["predictions"]
    assert plain["count"] == len(COHORT)


def test_csv_scores_without_the_excluded_columns_and_ignores_them_when_sent(server):
    status, plain = post_csv(server, csv_body(COHORT))
    assert status == 200, plain
    sent = [{"gender": "male", "race_ethnicity": "group E", **r} for r in COHORT]
    status, answer = post_csv(server, csv_body(sent))
    assert status == 200, answer
    assert csv_scores(answer) == csv_scores(plain)
    _, json_answer = predict(server, COHORT)
    assert csv_scores(plain) == [p["math_score"] for p in json_answer["predictions"]]


@pytest.mark.parametrize("shape", ["json", "csv"])
def test_a_missing_field_is_a_422_that_does_not_ask_for_the_excluded_ones(server, shape):
    student = {k: v for k, v in without(STUDENT).items() if k != "lunch"}
    if shape == "json":
        status, _, body = request(server.url + "/predictdata", json.dumps(student).encode())
    else:
        status, _, body = request(server.url + "/predictdata", csv_body([student]), CSV)
    message = body.decode()
    assert status == 422, message
    assert "lunch" in message
    assert not [name for name in EXCLUDED if name in message]


def test_the_document_lists_only_the_fields_the_model_uses(server):
    status, _, body = request(server.url + "/openapi.json")
    spec = json.loads(body)
    student = spec["components"]["schemas"]["Student"]
    assert status == 200
    assert set(student["properties"]).isdisjoint(EXCLUDED)
    assert set(student.get("required", [])).isdisjoint(EXCLUDED)
    csv_example = spec["paths"]["/predictdata"]["post"]["requestBody"]["content"][CSV]["example"]
    assert not [name for name in EXCLUDED if name in csv_example]
    # The documented example is accepted as it stands.
    assert request(server.url + "/predictdata", csv_example.encode(), CSV)[0] == 200


def test_the_card_says_what_was_left_out(server):
    status, headers, body = request(server.url + "/model/card")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    left_out = re.search(r"<p>Trained without (.*?)</p>", body.decode())
    assert left_out is not None
    assert sorted(re.findall(r"<code>(\w+)</code>", left_out[1])) == sorted(EXCLUDED)
