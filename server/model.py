"""The served model: a verified version, its onnxruntime session and its contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import onnxruntime as ort

from model_store.contributions import shapley_contributions
from model_store.onnx_io import check_parity_sample, open_session
from model_store.store import ModelStore
from server.contract import ServingContract


@dataclass(frozen=True)
class Scored:
    """A request's answers, column by column; the optional ones only when asked for."""

    scores: list[float]
    interval_level: int | None = None
    lower: list[float] | None = None
    upper: list[float] | None = None
    contributions: dict[str, list[float]] | None = None  # feature -> points per student
    baseline: float | None = None


@dataclass(frozen=True)
class ServedModel:
    version: str
    metadata: dict
    session: ort.InferenceSession
    contract: ServingContract

    def scores(self, columns: Mapping[str, Sequence]) -> list[float]:
        """Math scores for validated columns, in order, rounded to hundredths."""
        (output,) = self.session.run(None, self.contract.model.feeds(columns))
        return _hundredths(output.reshape(-1).astype(np.float64))

    def predict(self, columns: Mapping[str, Sequence], options: msgspec.Struct) -> Scored:
        """The scores, with the interval and the contributions `options` (the
        contract's PredictionOptions) ask for."""
        names = self.contract.model.feature_names
        if len(columns[names[0]]) == 0:
            raw = np.empty(0)  # onnxruntime refuses some graphs an empty batch
        else:
            (output,) = self.session.run(None, self.contract.model.feeds(columns))
            raw = output.reshape(-1).astype(np.float64)
        scores = _hundredths(raw)
        interval = {}
        if options.interval is not None:
            half_width = self.contract.model.intervals.levels[options.interval]
            target = self.contract.model.target
            interval = {
                "interval_level": options.interval,
                "lower": _hundredths(np.clip(raw - half_width, target.minimum, target.maximum)),
                "upper": _hundredths(np.clip(raw + half_width, target.minimum, target.maximum)),
            }
        if not options.explain:
            return Scored(scores, **interval)
        if not scores:
            empty = {name: [] for name in names}
            baseline = round(self.contract.model.reference.math_score, 2)
            return Scored(scores, **interval, contributions=empty, baseline=baseline)
        points, baseline = shapley_contributions(
            self.session, self.contract.model, columns, self.contract.model.reference.student
        )
        baseline = round(baseline, 2)
        rounded = _points_summing_to(points, np.asarray(scores) - baseline)
        return Scored(scores, **interval, contributions=rounded, baseline=baseline)


def _hundredths(values: np.ndarray) -> list[float]:
    return np.round(values, 2).tolist()


def _points_summing_to(points: dict[str, np.ndarray], totals: np.ndarray) -> dict[str, list]:
    """Each student's points in hundredths, summing exactly to their total (score -
    baseline, both in hundredths): floored, then the cents still missing go to the
    features with the largest remainders (the largest remainder method)."""
    names = list(points)
    if not names:
        return {}
    cents = np.column_stack([points[n] for n in names]) * 100  # students x features
    floor = np.floor(cents)
    missing = np.rint(totals * 100).astype(np.int64) - floor.sum(axis=1).astype(np.int64)
    each, extra = np.divmod(missing, len(names))
    # rank[i, j]: feature j's place among student i's remainders, largest first
    rank = np.argsort(np.argsort(floor - cents, axis=1, kind="stable"), axis=1)
    floor += each[:, None] + (rank < extra[:, None])
    return {name: (floor[:, j] / 100).tolist() for j, name in enumerate(names)}


def load_verified_model(store: ModelStore, version: str | None, threads: int) -> ServedModel:
    """Load a version, refusing it unless its SHA-256, contract and parity sample check out."""
    stored = store.load(version)
    contract = ServingContract.from_metadata(stored.metadata)
    session = open_session(stored.onnx_bytes, intra_op_threads=threads)
    check_parity_sample(session, stored.metadata, contract.model)
    return ServedModel(stored.version, stored.metadata, session, contract)
