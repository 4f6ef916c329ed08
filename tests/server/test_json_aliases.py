"""JSON requests take the public data set's spellings of the fields, as CSV
headers do, and a missing field's message names the near miss that was sent."""

from __future__ import annotations

import pytest

from tests.support.models import STUDENT

PUBLIC = {
    "gender": "female",
    "race/ethnicity": "group B",
    "parental level of education": "bachelor's degree",
    "lunch": "standard",
    "test preparation course": "none",
    "reading score": 72,
    "writing score": 74,
}


def post_json(client, body):
    return client.simulate_post("/predictdata", json=body)


def test_the_public_data_sets_spellings_score_as_the_fields(client):
    plain = post_json(client, STUDENT)
    public = post_json(client, {**PUBLIC, "ID": "s-1"})
    assert public.status_code == 200, public.text
    assert public.json["math_score"] == plain.json["math_score"]
    assert public.json["id"] == "s-1"


def test_a_cohort_may_mix_spellings(client):
    other = {**STUDENT, "lunch": "free/reduced"}
    plain = post_json(client, [STUDENT, other]).json["predictions"]
    mixed = post_json(client, [PUBLIC, {k.replace("_", " "): v for k, v in other.items()}])
    assert mixed.status_code == 200, mixed.text
    assert mixed.json["predictions"] == plain


def test_the_field_itself_wins_over_another_spelling(client):
    both = post_json(client, {**STUDENT, "reading score": 10})
    assert both.json["math_score"] == post_json(client, STUDENT).json["math_score"]


@pytest.mark.parametrize(
    ("sent", "field", "hint"),
    [
        ("race_ethnicty", "race_ethnicity", "'race_ethnicty' was sent: send it as"),
        ("Reading-Score", "reading_score", "'Reading-Score' was sent: send it as 'reading_score'"),
        ("parental_education", "parental_level_of_education", "'parental_education' was sent"),
    ],
)
def test_a_missing_field_names_the_near_miss_that_was_sent(client, sent, field, hint):
    student = {k: v for k, v in STUDENT.items() if k != field}
    response = post_json(client, {**student, sent: STUDENT[field]})
    assert response.status_code == 422
    (detail,) = response.json["details"]
    assert (detail["row"], detail["field"]) == (1, field)
    assert detail["message"].startswith("missing field; expected ")
    assert hint in detail["message"]


def test_a_missing_field_with_no_near_miss_says_only_what_is_expected(client):
    student = {k: v for k, v in STUDENT.items() if k != "lunch"}
    (detail,) = post_json(client, {**student, "school": "x"}).json["details"]
    assert detail["message"] == "missing field; expected one of 'free/reduced', 'standard'"
