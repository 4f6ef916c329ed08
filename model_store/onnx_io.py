"""Turning columns of student records into the ONNX graph's inputs, and running it.

Shared by export (parity), the store's verify command and the server, so all
three feed the graph exactly alike. Needs onnxruntime and numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnxruntime as ort

from model_store.schema import CATEGORICAL, features
from model_store.store import IntegrityError

# Tolerance of the parity check, in math points: ONNX runs in float32,
# scikit-learn in float64.
PARITY_TOLERANCE = 1e-3


def open_session(onnx_bytes: bytes, intra_op_threads: int = 1) -> ort.InferenceSession:
    """An onnxruntime session with full graph optimisation and a fixed thread count."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    try:
        return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
        raise IntegrityError(f"onnxruntime cannot load the model: {exc}") from exc


def build_feeds(metadata: dict, columns: Mapping[str, Sequence]) -> dict[str, np.ndarray]:
    """One (n, 1) array per feature: strings as objects, scores as float32."""
    feeds = {}
    for feature in features(metadata):
        name = feature["name"]
        if feature["kind"] == CATEGORICAL:
            # asarray: an object array (the CSV path's) is used as it is, not copied.
            array = np.asarray(columns[name], dtype=object)
        else:
            array = np.asarray(columns[name], dtype=np.float32)
        feeds[name] = array.reshape(-1, 1)
    return feeds


def predict(session: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Predicted math scores as a 1-D float64 array, in input order."""
    (output,) = session.run(None, feeds)
    return output.reshape(-1).astype(np.float64)


def records_to_columns(metadata: dict, records: Sequence[Mapping]) -> dict[str, list]:
    return {f["name"]: [r[f["name"]] for r in records] for f in features(metadata)}


def check_parity_sample(session: ort.InferenceSession, metadata: dict) -> float:
    """Run the records kept in the metadata and compare with scikit-learn's answers.

    Returns the largest absolute difference; raises IntegrityError above the
    tolerance, so a model that loads but computes something else is refused.
    """
    sample = metadata["parity_sample"]
    feeds = build_feeds(metadata, records_to_columns(metadata, sample["records"]))
    got = predict(session, feeds)
    expected = np.asarray(sample["expected"], dtype=np.float64)
    diff = float(np.max(np.abs(got - expected))) if len(expected) else 0.0
    if not diff <= PARITY_TOLERANCE:
        raise IntegrityError(
            f"version {metadata.get('version')}: onnxruntime differs from scikit-learn by "
            f"{diff:.6g} math points on the stored parity sample (tolerance {PARITY_TOLERANCE})"
        )
    return diff
