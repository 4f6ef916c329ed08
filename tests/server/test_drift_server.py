"""Drift on the real server: the Procfile's Gunicorn with two workers, over HTTP."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.drift import TRAINING_ROWS, as_csv, as_records, build_reference, draw_students
from tests.support.http import request


def serve_with_reference(store, start_server, **env: str):
    """The committed model republished with a drift reference, served by two workers."""
    current = store.load()
    training = draw_students(current.metadata, TRAINING_ROWS, seed=0)
    metadata = {
        **current.metadata,
        "drift_reference": build_reference(current.metadata, training),
    }
    store.publish(current.onnx_bytes, metadata)
    server = start_server(store.root, WEB_CONCURRENCY="2", **env)
    assert len(server.worker_pids()) == 2
    server.metadata = metadata
    return server


@pytest.fixture
def drift_server(store, start_server):
    return serve_with_reference(store, start_server)


def post(server, body: str, query: str = "", content_type: str = "application/json"):
    status, headers, answer = request(
        f"{server.url}/predictdata?{query}", body.encode(), content_type
    )
    assert status == 200, answer
    return headers, answer


def drift(server) -> dict:
    status, _, body = request(server.url + "/drift")
    assert status == 200, body
    return json.loads(body)


def test_counts_from_both_workers_add_up_on_drift(drift_server):
    sizes = [1] * 20 + [7] * 10 + [50] * 6
    bodies = [
        json.dumps(as_records(draw_students(drift_server.metadata, n, seed=100 + i)))
        for i, n in enumerate(sizes)
    ]
    with ThreadPoolExecutor(4) as pool:  # concurrent, so both workers take some
        list(pool.map(lambda body: post(drift_server, body), bodies))
    sent = sum(sizes)
    deadline = time.monotonic() + 10  # each worker writes its counts every second
    while True:
        report = drift(drift_server)
        counted = {f["students"] for f in report["since_start"]["fields"].values()}
        if counted == {sent} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert counted == {sent}
    assert {f["students"] for f in report["recent"]["fields"].values()} == {sent}


def test_a_cohort_from_the_population_is_not_flagged(drift_server):
    cohort = draw_students(drift_server.metadata, 500, seed=200)
    _, body = post(drift_server, json.dumps(as_records(cohort)), "report=drift")
    report = json.loads(body)["drift"]
    assert report["students"] == 500
    assert report["flagged"] == []


def test_a_tripled_category_is_flagged_on_its_field(drift_server):
    field = "parental_level_of_education"
    cohort = draw_students(drift_server.metadata, 500, seed=201, tripled=(field, "high school"))
    _, body = post(drift_server, json.dumps(as_records(cohort)), "report=drift")
    report = json.loads(body)["drift"]
    assert field in report["flagged"]
    assert "three times as many" in report["fields"][field]["summary"]


def test_a_shifted_csv_cohort_is_flagged_in_its_header(drift_server):
    cohort = draw_students(drift_server.metadata, 500, seed=202, shift=("reading_score", -10))
    headers, _ = post(drift_server, as_csv(cohort), "report=drift", "text/csv")
    report = json.loads(headers["X-Drift-Report"])
    assert (report["flagged"], report["students"]) == (["reading_score"], 500)
    assert "reading scores are about" in report["summaries"]["reading_score"]


def test_with_counting_off_drift_says_so_and_a_cohort_still_gets_its_report(store, start_server):
    server = serve_with_reference(store, start_server, DRIFT_COUNTS="false")
    field = "parental_level_of_education"
    cohort = draw_students(server.metadata, 500, seed=203, tripled=(field, "high school"))
    _, body = post(server, json.dumps(as_records(cohort)), "report=drift")
    report = json.loads(body)["drift"]
    assert (report["students"], report["flagged"]) == (500, [field])
    status, _, body = request(server.url + "/drift")
    assert status == 404
    error = json.loads(body)["error"]
    assert "live drift counting is off on this server (DRIFT_COUNTS=false)" in error
    _, _, metrics = request(server.url + "/metrics")
    assert b"studypredict_students_scored_total 500.0" in metrics
    assert b"studypredict_drift_" not in metrics
