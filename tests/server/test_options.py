"""POST /predictdata?interval=…&explain=true: ranges and contributions, opt-in."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request

import falcon.uri
import pytest

from server.options import MAX_PARSED_QUERIES, QueryOptions, query_params
from server.score_file import main as score_file_main
from tests.support.clients import make_client
from tests.support.models import STUDENT

EXTREME = {
    **STUDENT, "gender": "male", "race_ethnicity": "group E",
    "parental_level_of_education": "master's degree", "reading_score": 100, "writing_score": 100,
}  # fmt: skip
FIELDS = list(STUDENT)


def post(client, body, query: str = "", **kwargs):
    return client.simulate_post("/predictdata", json=body, query_string=query, **kwargs)


def post_csv(client, text: str, query: str = ""):
    return client.simulate_post(
        "/predictdata", body=text, query_string=query, headers={"Content-Type": "text/csv"}
    )


def csv_text(students: list[dict], ids: bool = False) -> str:
    header = (["id"] if ids else []) + FIELDS
    lines = [",".join(header)]
    for number, student in enumerate(students):
        lines.append(",".join(([f"s{number}"] if ids else []) + [str(student[f]) for f in FIELDS]))
    return "\n".join(lines) + "\n"


def assert_sums(answer: dict) -> None:
    """The points add up to math_score - baseline, to the hundredth."""
    total = sum(answer["contributions"].values())
    assert abs(total - (answer["math_score"] - answer["baseline"])) < 0.01 - 1e-9


def test_without_options_the_answer_is_unchanged(client):
    assert set(post(client, STUDENT).json) == {"model_version", "math_score"}
    assert post_csv(client, csv_text([STUDENT])).text.splitlines()[0] == "math_score"


@pytest.mark.parametrize("level", ["80", "90", "95"])
def test_an_interval_surrounds_the_score_by_the_models_half_width(client, model, level):
    answer = post(client, STUDENT, f"interval={level}").json
    half_width = model.metadata["intervals"]["half_widths"][level]
    assert answer["interval_level"] == int(level)
    assert answer["math_score_lower"] == pytest.approx(answer["math_score"] - half_width, abs=0.01)
    assert answer["math_score_upper"] == pytest.approx(answer["math_score"] + half_width, abs=0.01)


def test_interval_ends_stay_within_the_targets_bounds(client):
    answers = post(
        client, [EXTREME, {**STUDENT, "reading_score": 0, "writing_score": 0}], "interval=95"
    )
    for answer in answers.json["predictions"]:
        assert 0 <= answer["math_score_lower"] <= answer["math_score_upper"] <= 100


def test_contributions_sum_to_the_score_less_the_baseline_for_one_student(client, model):
    answer = post(client, EXTREME, "explain=true").json
    assert set(answer["contributions"]) == set(FIELDS)
    assert answer["baseline"] == round(model.contract.model.reference.math_score, 2)
    assert_sums(answer)


def test_contributions_sum_for_every_student_of_a_cohort(client, model):
    records = model.metadata["parity_sample"]["records"]
    answer = post(
        client, [{**r, "id": n} for n, r in enumerate(records)], "explain=true&interval=90"
    )
    assert answer.status_code == 200
    for number, prediction in enumerate(answer.json["predictions"]):
        assert prediction["id"] == number
        assert prediction["interval_level"] == 90
        assert_sums(prediction)


def test_the_reference_student_has_nothing_to_explain(client, model):
    reference = model.contract.model.reference.student
    answer = post(client, dict(reference), "explain=true").json
    assert set(answer["contributions"].values()) == {0.0}
    assert answer["math_score"] == answer["baseline"]


def test_a_field_away_from_the_reference_gets_the_points(client, model):
    reference = dict(model.contract.model.reference.student)
    changed = {**reference, "test_preparation_course": "completed"}
    answer = post(client, changed, "explain=true").json
    points = answer["contributions"]
    assert points.pop("test_preparation_course") != 0
    assert set(points.values()) == {0.0}


def test_csv_answers_carry_the_interval_and_contribution_columns(client):
    students = [STUDENT, EXTREME]
    answer = post_csv(client, csv_text(students, ids=True), "interval=80&explain=true")
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert list(rows[0]) == [
        "id", "math_score", "math_score_lower", "math_score_upper", "interval_level",
        *(f"contribution_{f}" for f in FIELDS), "baseline",
    ]  # fmt: skip
    json_answers = post(client, students, "interval=80&explain=true").json["predictions"]
    for row, expected in zip(rows, json_answers, strict=True):
        assert float(row["math_score"]) == expected["math_score"]
        assert float(row["math_score_lower"]) == expected["math_score_lower"]
        assert int(row["interval_level"]) == 80
        total = sum(float(row[f"contribution_{f}"]) for f in FIELDS)
        assert abs(total - (float(row["math_score"]) - float(row["baseline"]))) < 0.01 - 1e-9


def test_an_empty_cohort_gets_the_columns_it_asked_for(client):
    answer = post_csv(client, csv_text([]), "interval=90")
    assert answer.text == "math_score,math_score_lower,math_score_upper,interval_level\n"
    assert post(client, [], "explain=true").json["predictions"] == []


@pytest.mark.parametrize(
    "query, message",
    [
        ("interval=85", "interval='85' is not a level of this model; allowed: 80, 90, 95"),
        ("interval=ninety", "allowed: 80, 90, 95"),
        ("interval=", "interval='' is not a level"),
        ("interval=80&interval=90", "allowed: 80, 90, 95"),
        ("explain=maybe", "use explain=true or explain=false"),
    ],
)
def test_a_bad_option_is_a_422_naming_the_allowed_values(client, query, message):
    for answer in (post(client, STUDENT, query), post_csv(client, csv_text([STUDENT]), query)):
        assert answer.status_code == 422
        assert message in answer.json["error"]


def test_a_model_without_intervals_or_reference_refuses_the_options(bare_model):
    client = make_client(bare_model)
    answer = post(client, STUDENT, "interval=90")
    assert answer.status_code == 422
    assert "carries no intervals" in answer.json["error"]
    answer = post(client, STUDENT, "explain=true")
    assert answer.status_code == 422
    assert "no reference student" in answer.json["error"]
    assert post(client, STUDENT, "explain=false").status_code == 200


def test_the_model_endpoint_lists_the_allowed_options(client, bare_model):
    assert client.simulate_get("/model").json["options"] == {
        "interval": [80, 90, 95], "explain": True, "report": ["drift"],
    }  # fmt: skip
    assert make_client(bare_model).simulate_get("/model").json["options"] == {
        "interval": [], "explain": False, "report": [],
    }  # fmt: skip


def test_score_file_takes_the_same_options(tmp_path, store, client, monkeypatch):
    monkeypatch.setenv("MODEL_STORE_DIR", str(store.root))
    source, destination = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(csv_text([STUDENT, EXTREME], ids=True))
    argv = [str(source), str(destination), "--quiet", "--interval", "90", "--explain"]
    assert score_file_main(argv) == 0
    rows = list(csv.DictReader(destination.open()))
    expected = post(client, [STUDENT, EXTREME], "interval=90&explain=true")
    for row, answer in zip(rows, expected.json["predictions"], strict=True):
        assert float(row["math_score_upper"]) == answer["math_score_upper"]
        assert float(row["contribution_lunch"]) == answer["contributions"]["lunch"]
        assert float(row["baseline"]) == answer["baseline"]


def test_score_file_refuses_a_level_the_model_lacks(tmp_path, store, monkeypatch, capsys):
    monkeypatch.setenv("MODEL_STORE_DIR", str(store.root))
    source = tmp_path / "in.csv"
    source.write_text(csv_text([STUDENT]))
    assert score_file_main([str(source), str(tmp_path / "out.csv"), "--interval", "99"]) == 1
    assert "allowed: 80, 90, 95" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_the_procfile_server_answers_with_both_options(store, start_server):
    server = start_server(store.root)
    request = urllib.request.Request(
        f"{server.url}/predictdata?interval=90&explain=true",
        data=json.dumps([STUDENT, {**STUDENT, "lunch": "free/reduced"}]).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        predictions = json.load(response)["predictions"]
    for answer in predictions:
        assert answer["interval_level"] == 90
        assert answer["math_score_lower"] <= answer["math_score"] <= answer["math_score_upper"]
        assert_sums(answer)
    refused = urllib.request.Request(
        f"{server.url}/predictdata?interval=85", data=json.dumps(STUDENT).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(refused, timeout=10)
    assert error.value.code == 422
    assert "allowed: 80, 90, 95" in json.load(error.value)["error"]


def test_each_distinct_query_is_parsed_once_and_the_memory_of_them_is_bounded(model):
    options = QueryOptions(model.contract.model)
    assert options.from_query_string("interval=90") is options.from_query_string("interval=90")
    for number in range(MAX_PARSED_QUERIES * 2):
        assert options.from_query_string(f"interval=90&n={number}").interval == 90
    late = "interval=80&late=1"  # past the bound: parsed again each time, not kept
    assert options.from_query_string(late) == options.from_query_string(late)
    assert options.from_query_string(late) is not options.from_query_string(late)


def test_for_the_linear_committed_model_points_grow_with_the_distance_from_the_reference(
    client, model
):
    # Ridge: a score's points are its coefficient times its difference from the reference.
    reference = dict(model.contract.model.reference.student)
    points = [
        post(
            client,
            {**reference, "reading_score": reference["reading_score"] + step},
            "explain=true",
        ).json["contributions"]["reading_score"]
        for step in (10, 20, -10)
    ]
    assert points[1] == pytest.approx(2 * points[0], abs=0.02)
    assert points[2] == pytest.approx(-points[0], abs=0.02)
    assert points[0] != 0


def test_a_students_range_is_the_same_alone_and_in_a_cohort(client):
    # A few students are scored value by value, more with numpy: the same hundredths.
    cohort = [
        {**STUDENT, "reading_score": 3.37 * i, "writing_score": 100 - 2.91 * i} for i in range(20)
    ]
    together = post(client, cohort, "interval=90").json["predictions"]
    for student, answer in zip(cohort, together, strict=True):
        alone = post(client, student, "interval=90").json
        del alone["model_version"]
        assert alone == answer


@pytest.mark.parametrize(
    "query",
    [
        "interval=90",
        "interval=90&explain=true",
        "interval=",
        "interval",
        "a=1&a=2&a=3",
        "x=%20y+z%C3%A9",
        "&&",
        "interval=90&interval=80",
        "=v",
        "echo=all;x=1",
        "report=drift&",
    ],
)
def test_query_options_are_read_as_falcon_reads_them(query):
    assert query_params(query) == falcon.uri.parse_query_string(query, keep_blank=True)
