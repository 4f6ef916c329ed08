"""The served model: a verified version, its onnxruntime session and its contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from model_store.onnx_io import check_parity_sample, open_session
from model_store.store import ModelStore
from server.contract import ServingContract


@dataclass(frozen=True)
class ServedModel:
    version: str
    metadata: dict
    session: ort.InferenceSession
    contract: ServingContract

    def scores(self, columns: Mapping[str, Sequence]) -> list[float]:
        """Math scores for validated columns, in order, rounded to hundredths."""
        (output,) = self.session.run(None, self.contract.model.feeds(columns))
        return np.round(output.reshape(-1).astype(np.float64), 2).tolist()


def load_verified_model(store: ModelStore, version: str | None, threads: int) -> ServedModel:
    """Load a version, refusing it unless its SHA-256, contract and parity sample check out."""
    stored = store.load(version)
    contract = ServingContract.from_metadata(stored.metadata)
    session = open_session(stored.onnx_bytes, intra_op_threads=threads)
    check_parity_sample(session, stored.metadata, contract.model)
    return ServedModel(stored.version, stored.metadata, session, contract)
