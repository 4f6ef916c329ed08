"""Shapley contributions through the ONNX graph: they add up, and match a linear model's terms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from export.__main__ import read_split
from export.convert import to_onnx_bytes
from export.metadata import input_schema
from export.reference import reference
from model_store.contributions import shapley_contributions
from model_store.onnx_io import build_feeds, open_session, predict
from train.columns import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, TARGET
from train.pipeline import CATEGORIES_TRANSFORMER, PREPROCESS_STEP, build_pipeline, candidates
from train.run_files import TRAIN_SPLIT_FILE
from train.synthetic import generate

SUM_TOLERANCE = 1e-4  # math points
# ONNX computes in float32, scikit-learn's coefficients are float64.
LINEAR_TOLERANCE = 1e-3


class CountingSession:
    """A real onnxruntime session that records the size of each run it is asked for."""

    def __init__(self, session):
        self._session = session
        self.rows_per_run: list[int] = []

    def run(self, output_names, feeds):
        self.rows_per_run.append(len(next(iter(feeds.values()))))
        return self._session.run(output_names, feeds)


def fitted_model(name: str):
    candidate = next(c for c in candidates(42) if c.name == name)
    train = generate(rows=400, seed=11)
    pipeline = build_pipeline(candidate.regressor, candidate.scale_scores)
    pipeline.fit(train[list(FEATURES)], train[TARGET])
    session = open_session(to_onnx_bytes(pipeline))
    metadata = {"schema": input_schema(pipeline)}
    metadata["reference"] = reference(metadata, train, session)
    return pipeline, session, metadata


@pytest.fixture(scope="module", params=["ridge", "gradient_boosting", "random_forest"])
def model(request):
    return fitted_model(request.param)


@pytest.fixture(scope="module")
def ridge():
    return fitted_model("ridge")


def as_columns(frame: pd.DataFrame) -> dict[str, list]:
    return {name: frame[name].tolist() for name in FEATURES}


def explain(session, metadata, students: pd.DataFrame):
    return shapley_contributions(
        session, metadata, as_columns(students), metadata["reference"]["student"]
    )


def test_contributions_sum_to_score_minus_baseline(model):
    _, session, metadata = model
    students = generate(rows=300, seed=12)
    points, baseline = explain(session, metadata, students)
    scores = predict(session, build_feeds(metadata, as_columns(students)))
    assert set(points) == set(FEATURES)
    assert all(p.dtype == np.float64 and p.shape == (300,) for p in points.values())
    np.testing.assert_allclose(sum(points.values()), scores - baseline, rtol=0, atol=SUM_TOLERANCE)


def test_baseline_is_the_reference_students_score(model):
    _, session, metadata = model
    _, baseline = explain(session, metadata, generate(rows=3, seed=13))
    assert baseline == pytest.approx(metadata["reference"]["math_score"], abs=SUM_TOLERANCE)


def test_the_reference_student_has_no_contributions(model):
    _, session, metadata = model
    student = pd.DataFrame([metadata["reference"]["student"]])
    points, _ = explain(session, metadata, student)
    assert all(abs(p[0]) < SUM_TOLERANCE for p in points.values())


def linear_terms(pipeline, students: pd.DataFrame, student_reference: dict) -> dict:
    """coefficient × (encoded student − encoded reference), summed per raw feature."""
    preprocess = pipeline.named_steps[PREPROCESS_STEP]
    coefficients = pipeline[-1].coef_
    encoded = preprocess.transform(students[list(FEATURES)])
    encoded_reference = preprocess.transform(pd.DataFrame([student_reference])[list(FEATURES)])
    terms = (encoded - encoded_reference) * coefficients
    # Output columns are named "<transformer>__<feature>[_<category>]".
    output_names = preprocess.get_feature_names_out()
    result = {}
    for name in FEATURES:
        if name in CATEGORICAL_FEATURES:
            mine = [o.startswith(f"{CATEGORIES_TRANSFORMER}__{name}_") for o in output_names]
        else:
            mine = [o == f"scores__{name}" for o in output_names]
        result[name] = terms[:, mine].sum(axis=1)
    return result


def test_linear_model_contributions_are_coefficient_times_difference(ridge):
    pipeline, session, metadata = ridge
    students = generate(rows=200, seed=14)
    expected = linear_terms(pipeline, students, metadata["reference"]["student"])
    # Every coalition must score inside 0-100, or the clip makes the model non-additive.
    spread = np.stack(list(expected.values()))
    baseline = metadata["reference"]["math_score"]
    in_range = (baseline + np.minimum(spread, 0).sum(axis=0) > 0) & (
        baseline + np.maximum(spread, 0).sum(axis=0) < 100
    )
    assert in_range.mean() > 0.9
    points, _ = explain(session, metadata, students[in_range])
    for name in FEATURES:
        np.testing.assert_allclose(
            points[name], expected[name][in_range], rtol=0, atol=LINEAR_TOLERANCE, err_msg=name
        )
    assert any(np.abs(expected[name]).max() > 1 for name in NUMERIC_FEATURES)


def test_every_coalition_of_every_student_is_scored_in_one_run(ridge):
    _, session, metadata = ridge
    counting = CountingSession(session)
    shapley_contributions(
        counting, metadata, as_columns(generate(rows=10, seed=15)), metadata["reference"]["student"]
    )
    assert counting.rows_per_run == [10 * 2 ** len(FEATURES)]


def test_no_students_gives_empty_contributions_and_the_baseline(ridge):
    _, session, metadata = ridge
    points, baseline = explain(session, metadata, generate(rows=1, seed=16).iloc[:0])
    assert all(p.shape == (0,) for p in points.values())
    assert baseline == pytest.approx(metadata["reference"]["math_score"], abs=SUM_TOLERANCE)


def test_a_reference_without_a_served_feature_is_refused_naming_it(ridge):
    _, session, metadata = ridge
    student_reference = dict(metadata["reference"]["student"])
    del student_reference["lunch"]
    with pytest.raises(ValueError, match="no value for lunch"):
        shapley_contributions(
            session, metadata, as_columns(generate(rows=2, seed=17)), student_reference
        )


def test_published_metadata_reference_is_modes_and_means_of_the_training_split(
    published, trained_run
):
    train = read_split(trained_run.path / TRAIN_SPLIT_FILE)
    student = published.metadata["reference"]["student"]
    assert set(student) == set(FEATURES)
    for name in CATEGORICAL_FEATURES:
        assert student[name] == train[name].mode().iloc[0]
    for name in NUMERIC_FEATURES:
        assert student[name] == pytest.approx(train[name].mean())
    session = open_session(published.onnx_bytes)
    columns = {name: [value] for name, value in student.items()}
    (score,) = predict(session, build_feeds(published.metadata, columns))
    assert published.metadata["reference"]["math_score"] == score
