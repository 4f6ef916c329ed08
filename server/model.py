"""The served model: a verified version, its onnxruntime session and its schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from model_store.onnx_io import build_feeds, check_parity_sample, open_session
from model_store.store import ModelStore


@dataclass(frozen=True)
class ServedModel:
    version: str
    metadata: dict
    session: ort.InferenceSession

    def scores(self, columns: Mapping[str, Sequence]) -> list[float]:
        """Math scores for validated columns, in order, rounded to hundredths."""
        (output,) = self.session.run(None, build_feeds(self.metadata, columns))
        if output.size == 1:
            # One student: Python's round() rounds half to even as np.rint does, and
            # skips five array operations (measured 23.5 -> 20.6 µs per request).
            return [round(float(output.flat[0]) * 100) / 100]
        # np.rint(x * 100) / 100 is what np.round(x, 2) computes, without its overhead.
        return (np.rint(output.reshape(-1).astype(np.float64) * 100) / 100).tolist()


def load_verified_model(store: ModelStore, version: str | None, threads: int) -> ServedModel:
    """Load a version, refusing it unless its SHA-256 and parity sample check out."""
    stored = store.load(version)
    session = open_session(stored.onnx_bytes, intra_op_threads=threads)
    check_parity_sample(session, stored.metadata)
    return ServedModel(stored.version, stored.metadata, session)
