"""GET /drift and `?report=drift`, in-process, with a model whose metadata carries a reference."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from server.drift_count import CohortCounter
from server.drift_metrics import DriftCounts
from server.drift_reference import DriftReference
from server.keys import configuration_entry, parse_key_hashes
from server.model import ServedModel
from tests.support.clients import make_client
from tests.support.drift import as_csv, as_records, draw_students, with_reference, without_reference


@pytest.fixture
def drift_model(model) -> ServedModel:
    return with_reference(model)


@pytest.fixture
def drift_client(drift_model):
    return make_client(drift_model)


def post(client, payload, query: str = "", content_type: str = "application/json"):
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return client.simulate_post(
        "/predictdata", body=body, query_string=query, headers={"Content-Type": content_type}
    )


def test_a_cohort_asking_for_its_report_gets_it_beside_the_scores(drift_client, drift_model):
    columns = draw_students(drift_model.metadata, 300, seed=11, shift=("writing_score", 10))
    answer = post(drift_client, as_records(columns), "report=drift").json
    assert answer["count"] == 300
    report = answer["drift"]
    assert report["students"] == 300
    assert "writing_score" in report["flagged"]
    assert "points higher" in report["fields"]["writing_score"]["summary"]


def test_without_the_report_the_answer_is_unchanged(drift_client, drift_model):
    columns = draw_students(drift_model.metadata, 5, seed=12)
    answer = post(drift_client, as_records(columns)).json
    assert set(answer) == {"model_version", "count", "predictions"}


def test_a_csv_cohort_gets_its_report_as_a_header(drift_client, drift_model):
    field = "race_ethnicity"
    columns = draw_students(drift_model.metadata, 300, seed=13, tripled=(field, "group A"))
    response = post(drift_client, as_csv(columns), "report=drift", "text/csv")
    assert response.status_code == 200
    header = response.headers["X-Drift-Report"]
    assert header.isascii()
    report = json.loads(header)
    assert report["students"] == 300
    assert field in report["flagged"]
    assert "three times as many students in group A" in report["summaries"][field]
    assert response.text.startswith("math_score\n")


def test_a_csv_cohort_without_the_report_has_no_header(drift_client, drift_model):
    columns = draw_students(drift_model.metadata, 30, seed=13)
    response = post(drift_client, as_csv(columns), "", "text/csv")
    assert response.status_code == 200
    assert "X-Drift-Report" not in response.headers


def test_the_report_combines_with_the_other_options(model):
    model = with_reference(model)
    columns = draw_students(model.metadata, 40, seed=19)
    answer = post(make_client(model), as_records(columns), "report=drift&interval=90").json
    assert answer["drift"]["students"] == 40
    assert {"math_score_lower", "math_score_upper"} <= set(answer["predictions"][0])


def test_one_student_may_ask_for_the_report_too(drift_client, drift_model):
    record = as_records(draw_students(drift_model.metadata, 1, seed=20))[0]
    answer = post(drift_client, record, "report=drift").json
    assert answer["drift"]["students"] == 1
    assert answer["drift"]["flagged"] == []


def test_an_unknown_report_is_a_422_naming_the_one_we_make(drift_client, drift_model):
    columns = draw_students(drift_model.metadata, 2, seed=14)
    response = post(drift_client, as_records(columns), "report=fairness")
    assert response.status_code == 422
    assert "use report=drift" in response.json["error"]


def test_drift_counts_every_scored_student_and_none_refused(drift_client, drift_model):
    for seed in range(3):
        post(drift_client, as_records(draw_students(drift_model.metadata, 40, seed=seed)))
    bad = {**as_records(draw_students(drift_model.metadata, 1, seed=9))[0], "lunch": "caviar"}
    assert post(drift_client, bad).status_code == 422
    report = drift_client.simulate_get("/drift").json
    assert report["model_version"] == drift_model.version
    for window in ("since_start", "recent"):
        assert {f["students"] for f in report[window]["fields"].values()} == {120}
    assert report["recent"]["window"] == "the last 60 minutes"
    assert report["since_start"]["flagged"] == []


def test_metrics_carry_the_counts_and_the_distances(drift_client, drift_model):
    post(drift_client, as_records(draw_students(drift_model.metadata, 50, seed=15)))
    text = drift_client.simulate_get("/metrics").text
    version = drift_model.version
    cells = [
        line for line in text.splitlines() if line.startswith("studypredict_drift_students_total{")
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in cells if 'field="lunch"' in line) == 50
    assert (
        f'studypredict_drift_psi{{field="lunch",version="{version}",window="since_start"}}' in text
    )
    assert "# TYPE studypredict_drift_flagged gauge" in text


def test_a_version_without_a_reference_says_so(model):
    client = make_client(without_reference(model))
    response = client.simulate_get("/drift")
    assert response.status_code == 404
    assert "carries no drift reference" in response.json["error"]
    columns = draw_students(model.metadata, 2, seed=16)
    response = post(client, as_records(columns), "report=drift")
    assert response.status_code == 422
    assert "carries no drift reference" in response.json["error"]
    assert post(client, as_records(columns)).status_code == 200


def test_with_counting_off_drift_says_so_and_reports_still_come(drift_model):
    client = make_client(drift_model, drift_counts=False)
    response = client.simulate_get("/drift")
    assert response.status_code == 404
    assert "DRIFT_COUNTS=false" in response.json["error"]
    assert "?report=drift" in response.json["error"]
    columns = draw_students(drift_model.metadata, 300, seed=21, shift=("reading_score", 10))
    answer = post(client, as_records(columns), "report=drift").json
    assert answer["drift"]["flagged"] == ["reading_score"]
    assert "studypredict_drift_" not in client.simulate_get("/metrics").text


def test_the_recent_window_forgets_students_older_than_an_hour(drift_model):
    now = [1_000_000.0]
    reference = DriftReference.from_metadata(drift_model.metadata)
    counts = DriftCounts(drift_model.version, reference, clock=lambda: now[0])
    columns = draw_students(drift_model.metadata, 30, seed=17)
    counts.record(columns, 30)
    counts.flush()  # as the flushing thread does within a second
    now[0] += 30 * 60
    counts.record(columns, 30)
    since_start, recent = counts.totals()
    assert (since_start.sum(), recent.sum()) == (2 * 30 * 7, 2 * 30 * 7)
    now[0] += 31 * 60
    since_start, recent = counts.totals()
    assert (since_start.sum(), recent.sum()) == (2 * 30 * 7, 30 * 7)
    now[0] += 24 * 3600
    assert counts.totals()[1].sum() == 0


def test_requests_large_and_small_add_up_to_one_count_of_their_students(drift_model):
    """As the server hands them over: lists of codes for a few students, arrays for more
    (tallied at once); text categories as scripts give them."""
    reference = DriftReference.from_metadata(drift_model.metadata)
    counter = CohortCounter(reference)
    counts = DriftCounts(drift_model.version, reference)
    sizes = (1, 3, 16, 17, 400, 1, 5)
    batches = [draw_students(drift_model.metadata, n, seed=40 + i) for i, n in enumerate(sizes)]
    contract = drift_model.contract.model
    for index, columns in enumerate(batches):
        handed = counter.as_arrays(columns)
        if index % 2:
            coded = [f.name for f in reference.fields if f.categories]
            handed |= {name: contract.codes(name, handed[name]).tolist() for name in coded}
        counts.record(handed, len(columns["gender"]))
    joined = {name: sum((b[name] for b in batches), []) for name in batches[0]}
    expected = counter.count(joined, sum(sizes))
    since_start, recent = counts.totals()
    np.testing.assert_array_equal(since_start, expected)
    np.testing.assert_array_equal(recent, expected)


def test_the_flushing_thread_outlives_a_flush_that_fails(drift_model, caplog):
    """A few students with a category the reference lacks (only a caller bypassing
    validation could hand one over): that flush is lost and logged without the value,
    and the thread goes on flushing."""
    reference = DriftReference.from_metadata(drift_model.metadata)
    counts = DriftCounts(drift_model.version, reference, flush_seconds=0.01)
    bad = draw_students(drift_model.metadata, 2, seed=51)
    bad["race_ethnicity"] = ["group Z", "group Z"]
    failed = "drift counts not written this time; counting goes on"
    deadline = time.monotonic() + 5
    try:
        for times in (1, 2):  # the second failure is the same thread's next flush
            counts.record(bad, 2)
            while caplog.text.count(failed) < times and time.monotonic() < deadline:
                time.sleep(0.01)
            assert caplog.text.count(failed) == times
    finally:
        counts._stop.set()  # this test's thread flushes a hundred times a second
    assert "group Z" not in caplog.text
    counts.record(draw_students(drift_model.metadata, 30, seed=52), 30)
    assert counts.totals()[0].sum() == 30 * len(reference.fields)


def test_single_students_are_counted_too(drift_client, drift_model):
    for record in as_records(draw_students(drift_model.metadata, 3, seed=18)):
        assert post(drift_client, record).status_code == 200
    fields = drift_client.simulate_get("/drift").json["since_start"]["fields"]
    assert {f["students"] for f in fields.values()} == {3}


def test_drift_needs_an_api_key_like_the_model(drift_model):
    district, scraper = "district-key-" + "d" * 30, "scraper-key-" + "p" * 31
    api_keys = parse_key_hashes(configuration_entry("district", district))
    metrics_keys = parse_key_hashes(configuration_entry("scraper", scraper))
    keyed = make_client(drift_model, api_keys=api_keys, metrics_keys=metrics_keys)
    assert keyed.simulate_get("/drift").status_code == 401
    assert (
        keyed.simulate_get("/drift", headers={"Authorization": f"Bearer {scraper}"}).status_code
        == 401
    )
    assert (
        keyed.simulate_get("/drift", headers={"Authorization": f"Bearer {district}"}).status_code
        == 200
    )
