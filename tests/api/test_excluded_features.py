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
from tests.support.excluded import EXCLUDED
from tests.support.http import predict, request
from tests.support.models import STUDENT

CSV = "text/csv"


def without(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in EXCLUDED}


def csv_body(records: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().encode()


def post_csv(excluded_server: Server, body: bytes) -> tuple[int, str]:
    status, _, answer = request(excluded_server.url + "/predictdata", body, CSV)
    return status, answer.decode()


def csv_scores(text: str) -> list[float]:
    return [float(row["math_score"]) for row in csv.DictReader(io.StringIO(text))]


COHORT = [
    without(STUDENT),
    {**without(STUDENT), "lunch": "free/reduced", "reading_score": 40, "writing_score": 35},
    {**without(STUDENT), "test_preparation_course": "completed", "reading_score": 91},
]


def test_the_model_shows_what_it_was_trained_without(excluded_server):
    status, _, body = request(excluded_server.url + "/model")
    info = json.loads(body)
    assert status == 200
    assert sorted(info["excluded_features"]) == sorted(EXCLUDED)
    served = {f["name"] for f in info["schema"]["features"]}
    assert served.isdisjoint(EXCLUDED) and len(served) == 5
    assert info["exclusion_cost"]["without"]["holdout_mae"] == info["metrics"]["holdout_mae"]


def test_json_scores_a_student_without_the_excluded_fields(excluded_server):
    status, answer = predict(excluded_server, without(STUDENT))
    assert status == 200
    assert 0 <= answer["math_score"] <= 100


def test_json_ignores_the_excluded_fields_when_sent(excluded_server):
    _, plain = predict(excluded_server, COHORT)
    for gender, group in [("female", "group A"), ("male", "group E")]:
        sent = [{**r, "gender": gender, "race_ethnicity": group} for r in COHORT]
        status, answer = predict(excluded_server, sent)
        assert status == 200
        assert answer["predictions"] == plain["predictions"]
    assert plain["count"] == len(COHORT)


def test_csv_scores_without_the_excluded_columns_and_ignores_them_when_sent(excluded_server):
    status, plain = post_csv(excluded_server, csv_body(COHORT))
    assert status == 200, plain
    sent = [{"gender": "male", "race_ethnicity": "group E", **r} for r in COHORT]
    status, answer = post_csv(excluded_server, csv_body(sent))
    assert status == 200, answer
    assert csv_scores(answer) == csv_scores(plain)
    _, json_answer = predict(excluded_server, COHORT)
    assert csv_scores(plain) == [p["math_score"] for p in json_answer["predictions"]]


@pytest.mark.parametrize("shape", ["json", "csv"])
def test_a_missing_field_is_a_422_that_does_not_ask_for_the_excluded_ones(excluded_server, shape):
    student = {k: v for k, v in without(STUDENT).items() if k != "lunch"}
    url = excluded_server.url + "/predictdata"
    if shape == "json":
        status, _, body = request(url, json.dumps(student).encode())
    else:
        status, _, body = request(url, csv_body([student]), CSV)
    message = body.decode()
    assert status == 422, message
    assert "lunch" in message
    assert not [name for name in EXCLUDED if name in message]


def test_the_document_lists_only_the_fields_the_model_uses(excluded_server):
    status, _, body = request(excluded_server.url + "/openapi.json")
    spec = json.loads(body)
    student = spec["components"]["schemas"]["Student"]
    assert status == 200
    assert set(student["properties"]).isdisjoint(EXCLUDED)
    assert set(student.get("required", [])).isdisjoint(EXCLUDED)
    csv_example = spec["paths"]["/predictdata"]["post"]["requestBody"]["content"][CSV]["example"]
    assert not [name for name in EXCLUDED if name in csv_example]
    # The documented example is accepted as it stands.
    assert request(excluded_server.url + "/predictdata", csv_example.encode(), CSV)[0] == 200


def test_the_card_says_what_was_left_out(excluded_server):
    status, headers, body = request(excluded_server.url + "/model/card")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    left_out = re.search(r"<p>Trained without (.*?)</p>", body.decode())
    assert left_out is not None
    assert sorted(re.findall(r"<code>(\w+)</code>", left_out[1])) == sorted(EXCLUDED)
