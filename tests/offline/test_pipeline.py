"""Every candidate pipeline converts to ONNX, and the parity gate keeps out the one that drifts.

Each candidate's regressor is fitted with its default parameters: grids change the numbers,
not which operators the graph needs.
"""

from __future__ import annotations

import re

import onnx
import pytest

from export.convert import to_onnx_bytes
from export.metadata import input_schema
from export.parity import ParityError, certify, measure_parity
from train.columns import FEATURES, TARGET
from train.pipeline import build_pipeline, candidates
from train.synthetic import generate

SEED = 42
NAMES = [c.name for c in candidates(SEED)]
# onnxruntime breaks ties between equally distant neighbours differently from scikit-learn,
# and integer scores make ties common: export must refuse it.
DRIFTS = "k_nearest_neighbours"


@pytest.fixture(scope="module")
def sample():
    # 300 rows: enough ties for k-nearest-neighbours to drift.
    return generate(rows=300, seed=0)


@pytest.fixture(scope="module")
def converted(sample):
    """name -> (fitted pipeline, ONNX bytes) for every candidate."""
    result = {}
    for candidate in candidates(SEED):
        pipeline = build_pipeline(candidate.regressor, candidate.scale_scores)
        pipeline.fit(sample[list(FEATURES)], sample[TARGET])
        result[candidate.name] = (pipeline, to_onnx_bytes(pipeline))
    return result


def parity(converted, sample, name):
    pipeline, onnx_bytes = converted[name]
    return measure_parity(pipeline, onnx_bytes, {"schema": input_schema(pipeline)}, sample)


@pytest.mark.parametrize("name", NAMES)
def test_candidate_converts_to_a_valid_onnx_graph_of_one_coded_matrix(converted, name):
    model = onnx.load_from_string(converted[name][1])
    onnx.checker.check_model(model)
    (students,) = model.graph.input
    assert students.name == input_schema(converted[name][0])["input"]["name"]
    assert [d.dim_value for d in students.type.tensor_type.shape.dim][1:] == [len(FEATURES)]
    assert [o.name for o in model.graph.output] == [TARGET]


@pytest.mark.parametrize("name", [n for n in NAMES if n != DRIFTS])
def test_candidate_passes_the_parity_gate(converted, sample, name):
    report = parity(converted, sample, name)
    certify(report)
    assert report.rows_checked == len(sample)
    assert report.max_abs_diff <= report.tolerance


def test_parity_gate_refuses_k_nearest_neighbours_naming_both_predictions(converted, sample):
    report = parity(converted, sample, DRIFTS)
    with pytest.raises(ParityError) as raised:
        certify(report)
    message = str(raised.value)
    found = re.search(r"scikit-learn (-?[\d.]+), onnxruntime (-?[\d.]+)", message)
    assert found, message
    sklearn_value, onnx_value = map(float, found.groups())
    assert abs(sklearn_value - onnx_value) == pytest.approx(report.max_abs_diff, abs=1e-5)
    assert report.max_abs_diff > report.tolerance
