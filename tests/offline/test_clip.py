"""The served graph clips its output to the target's range, and parity is against the clip."""

from __future__ import annotations

import onnx
import pandas as pd
import pytest

from export.convert import to_onnx_bytes
from export.metadata import input_schema
from export.parity import certify, measure_parity
from model_store.onnx_io import build_feeds, open_session, predict
from train.columns import FEATURES, SCORE_MAX, SCORE_MIN, TARGET
from train.pipeline import build_pipeline, candidates
from train.synthetic import generate

# Valid students the committed ridge answered -9.83 and 108.35 for, before the clip.
EXTREMES = pd.DataFrame(
    {
        "gender": ["female", "male"],
        "race_ethnicity": ["group A", "group E"],
        "parental_level_of_education": ["some high school", "master's degree"],
        "lunch": ["free/reduced", "standard"],
        "test_preparation_course": ["none", "completed"],
        "reading_score": [0.0, 100.0],
        "writing_score": [0.0, 100.0],
    }
)

# A range narrow enough that every model family's extreme answers fall outside it.
NARROW = (40.0, 60.0)


@pytest.fixture(scope="module", params=["ridge", "gradient_boosting"])
def fitted(request):
    candidate = next(c for c in candidates(42) if c.name == request.param)
    sample = generate(rows=300, seed=5)
    pipeline = build_pipeline(candidate.regressor, candidate.scale_scores)
    return pipeline.fit(sample[list(FEATURES)], sample[TARGET])


def onnx_scores(onnx_bytes: bytes, metadata: dict, frame: pd.DataFrame):
    columns = {name: frame[name].tolist() for name in FEATURES}
    return predict(open_session(onnx_bytes), build_feeds(metadata, columns))


def test_graph_ends_in_a_clip_to_the_target_range(fitted):
    model = onnx.load_from_string(to_onnx_bytes(fitted))
    last = model.graph.node[-1]
    assert last.op_type == "Clip" and last.output[0] == TARGET
    bounds = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    assert [float(bounds[name]) for name in last.input[1:]] == [SCORE_MIN, SCORE_MAX]


def test_extreme_valid_students_answer_within_the_target_range(fitted):
    scores = onnx_scores(to_onnx_bytes(fitted), {"schema": input_schema(fitted)}, EXTREMES)
    assert ((SCORE_MIN <= scores) & (scores <= SCORE_MAX)).all()


def narrowed_schema(pipeline, minimum: float, maximum: float) -> dict:
    schema = input_schema(pipeline)
    return {
        "schema": {**schema, "target": {**schema["target"], "minimum": minimum, "maximum": maximum}}
    }


def test_clip_bounds_come_from_the_given_range(fitted):
    scores = onnx_scores(to_onnx_bytes(fitted, NARROW), {"schema": input_schema(fitted)}, EXTREMES)
    assert scores.tolist() == list(NARROW)


def test_parity_compares_against_the_clipped_scikit_learn_prediction(fitted):
    frame = pd.concat([EXTREMES, generate(rows=100, seed=6)])
    unclipped = fitted.predict(frame[list(FEATURES)])
    assert unclipped.min() < NARROW[0] and unclipped.max() > NARROW[1]  # the clip is exercised
    report = measure_parity(
        fitted, to_onnx_bytes(fitted, NARROW), narrowed_schema(fitted, *NARROW), frame
    )
    certify(report)


def test_published_model_answers_extreme_students_within_range(published):
    scores = onnx_scores(published.onnx_bytes, published.metadata, EXTREMES)
    assert ((SCORE_MIN <= scores) & (scores <= SCORE_MAX)).all()
