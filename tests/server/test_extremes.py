"""Extreme but valid students answer within the target's 0–100 everywhere: JSON (one
student and a cohort), CSV and `python -m server.score_file`, with the committed model,
whose graph clips. Before the clip it answered -9.83 and 108.35 for the two below."""

from __future__ import annotations

import csv
import io
import itertools
import os
import subprocess
import sys

import pytest

from tests.support.clients import make_client
from tests.support.models import REPO, STUDENT

LOWEST = {**STUDENT, "reading_score": 0, "writing_score": 0}
HIGHEST = {
    "gender": "male", "race_ethnicity": "group E",
    "parental_level_of_education": "master's degree", "lunch": "standard",
    "test_preparation_course": "completed", "reading_score": 100, "writing_score": 100,
}  # fmt: skip
CORNERS = [(0, 0), (0, 100), (100, 0), (100, 100)]


def every_extreme_student(model) -> list[dict]:
    """Each combination of categories with each corner of the two scores."""
    features = model.contract.model.features
    categorical = [f for f in features if hasattr(f, "categories")]
    students = []
    for values in itertools.product(*(f.categories for f in categorical)):
        for reading, writing in CORNERS:
            student = dict(zip([f.name for f in categorical], values, strict=True))
            students.append({**student, "reading_score": reading, "writing_score": writing})
    return students


def in_range(scores) -> bool:
    return all(0.0 <= score <= 100.0 for score in scores)


def csv_body(students: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(students[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(students)
    return out.getvalue()


@pytest.mark.parametrize(("student", "expected"), [(LOWEST, 0.0), (HIGHEST, 100.0)])
def test_one_extreme_student_answers_the_bound(client, student, expected):
    response = client.simulate_post("/predictdata", json=student)
    assert response.status_code == 200
    assert response.json["math_score"] == expected


def test_every_extreme_cohort_answer_is_within_0_to_100(client, model):
    students = every_extreme_student(model)
    response = client.simulate_post("/predictdata", json=students)
    scores = [p["math_score"] for p in response.json["predictions"]]
    assert len(scores) == len(students) == 960
    assert in_range(scores)
    assert min(scores) == 0.0 and max(scores) == 100.0  # the clip is reached, both ends


def test_every_extreme_csv_answer_is_within_0_to_100(client, model):
    students = every_extreme_student(model)
    response = client.simulate_post(
        "/predictdata", body=csv_body(students), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200
    scores = [float(row["math_score"]) for row in csv.DictReader(io.StringIO(response.text))]
    assert len(scores) == 960 and in_range(scores)


def test_the_ends_of_an_extreme_range_stay_within_0_to_100(model):
    client = make_client(model)
    answer = client.simulate_post(
        "/predictdata", json=[LOWEST, HIGHEST], query_string="interval=95"
    ).json["predictions"]
    assert [p["math_score"] for p in answer] == [0.0, 100.0]
    assert answer[0]["math_score_lower"] == 0.0 and answer[1]["math_score_upper"] == 100.0
    assert in_range(p[end] for p in answer for end in ("math_score_lower", "math_score_upper"))


def test_score_file_answers_extreme_students_within_0_to_100(tmp_path, store, model):
    students = every_extreme_student(model)
    (tmp_path / "in.csv").write_text(csv_body([LOWEST, HIGHEST, *students]))
    subprocess.run(
        [sys.executable, "-m", "server.score_file", "--quiet",
         str(tmp_path / "in.csv"), str(tmp_path / "out.csv")],
        cwd=REPO, env={**os.environ, "MODEL_STORE_DIR": str(store.root)},
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    with open(tmp_path / "out.csv", newline="") as f:
        scores = [float(row["math_score"]) for row in csv.DictReader(f)]
    assert scores[:2] == [0.0, 100.0]
    assert len(scores) == 962 and in_range(scores)


def test_the_document_declares_the_scores_bounds(client, model):
    components = client.simulate_get("/openapi.json").json["components"]["schemas"]
    target = model.contract.model.target
    for answer in ("Prediction", "SinglePrediction"):
        score = components[answer]["properties"]["math_score"]
        assert (score["minimum"], score["maximum"]) == (target.minimum, target.maximum)
