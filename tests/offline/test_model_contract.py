"""The contract's input layout: one float32 matrix, categories as their codes."""

from __future__ import annotations

import numpy as np
import pytest

from model_store.contract import ModelContract
from model_store.onnx_io import open_session, predict
from model_store.store import DEFAULT_ROOT, IntegrityError, ModelStore


@pytest.fixture(scope="module")
def committed():
    return ModelStore(DEFAULT_ROOT).load()


@pytest.fixture(scope="module")
def contract(committed) -> ModelContract:
    return ModelContract.from_metadata(committed.metadata)


def test_a_category_is_coded_as_its_index_in_the_schema(contract, committed):
    for feature in committed.metadata["schema"]["features"]:
        if feature["kind"] == "categorical":
            codes = contract.category_codes(feature["name"])
            assert list(codes) == feature["categories"]
            assert list(codes.values()) == list(range(len(feature["categories"])))


def test_records_encode_in_the_schemas_column_order(contract, committed):
    records = committed.metadata["parity_sample"]["records"][:3]
    matrix = contract.encode(contract.columns(records))
    assert matrix.dtype == np.float32 and matrix.shape == (3, len(contract.features))
    for j, feature in enumerate(committed.metadata["schema"]["features"]):
        for i, record in enumerate(records):
            value = record[feature["name"]]
            expected = feature["categories"].index(value) if feature.get("categories") else value
            assert matrix[i, j] == np.float32(expected), feature["name"]


def test_codes_and_text_feed_the_graph_alike(contract, committed):
    columns = contract.columns(committed.metadata["parity_sample"]["records"])
    coded = {
        name: contract.codes(name, values) if isinstance(values[0], str) else values
        for name, values in columns.items()
    }
    session = open_session(committed.onnx_bytes)
    expected = committed.metadata["parity_sample"]["expected"]
    np.testing.assert_allclose(predict(session, contract.feeds(coded)), expected, atol=1e-3)
    np.testing.assert_array_equal(contract.encode(coded), contract.encode(columns))


def test_an_unknown_category_is_refused(contract):
    columns = contract.columns([{**contract.reference.student, "lunch": "caviar"}])
    with pytest.raises(KeyError):
        contract.encode(columns)


def test_a_version_with_one_input_per_feature_is_refused_with_what_to_do(committed):
    metadata = dict(committed.metadata)
    metadata["schema"] = {k: v for k, v in metadata["schema"].items() if k != "input"}
    with pytest.raises(IntegrityError, match="publish the model again"):
        ModelContract.from_metadata(metadata)


def test_an_input_layout_out_of_the_features_order_is_refused(committed):
    metadata = dict(committed.metadata)
    schema = dict(metadata["schema"])
    schema["input"] = {**schema["input"], "columns": schema["input"]["columns"][::-1]}
    metadata["schema"] = schema
    with pytest.raises(IntegrityError, match="not the schema's features"):
        ModelContract.from_metadata(metadata)
