"""Running the ONNX graph: the session, the feeds and the parity sample.

Shared by export (parity), the store's verify command and the server, so all
three feed the graph exactly alike, through the version's `ModelContract`.
Needs onnxruntime and numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnxruntime as ort

from model_store.contract import ModelContract
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
    """One (n, 1) array per feature, as `ModelContract.feeds` builds them."""
    return ModelContract.from_metadata(metadata).feeds(columns)


def predict(session: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Predicted math scores as a 1-D float64 array, in input order."""
    (output,) = session.run(None, feeds)
    return output.reshape(-1).astype(np.float64)


def records_to_columns(metadata: dict, records: Sequence[Mapping]) -> dict[str, list]:
    return ModelContract.from_metadata(metadata).columns(records)


def check_parity_sample(
    session: ort.InferenceSession, metadata: dict, contract: ModelContract | None = None
) -> float:
    """Run the records kept in the metadata and compare with scikit-learn's answers.

    Returns the largest absolute difference; raises IntegrityError above the
    tolerance, so a model that loads but computes something else is refused.
    """
    contract = contract or ModelContract.from_metadata(metadata)
    sample = metadata["parity_sample"]
    got = predict(session, contract.feeds(contract.columns(sample["records"])))
    expected = np.asarray(sample["expected"], dtype=np.float64)
    diff = float(np.max(np.abs(got - expected))) if len(expected) else 0.0
    if not diff <= PARITY_TOLERANCE:
        raise IntegrityError(
            f"version {metadata.get('version')}: onnxruntime differs from scikit-learn by "
            f"{diff:.6g} math points on the stored parity sample (tolerance {PARITY_TOLERANCE})"
        )
    return diff
