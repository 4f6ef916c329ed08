"""The served model: a verified version, its onnxruntime session and its contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import onnxruntime as ort

from model_store.contributions import shapley_contributions
from model_store.onnx_io import check_parity_sample, open_session
from model_store.store import IntegrityError, ModelStore, StoreError
from server.batch import FEW_STUDENTS
from server.contract import ServingContract
from server.intervals import interval_ends


class Scored(msgspec.Struct, frozen=True):
    """A request's answers, column by column, in hundredths; the optional ones only
    when asked for (the CSV answer writes them without a list). A Struct rather than
    a dataclass: made on every request, it costs a tenth as much."""

    scores: list[float]
    cents: np.ndarray | None = None  # the scores as counts of hundredths, for many students
    interval_level: int | None = None
    lower: Sequence[float] | None = None  # a list for a few students, else an array
    upper: Sequence[float] | None = None
    contributions: dict[str, np.ndarray] | None = None  # feature -> points per student
    baseline: float | None = None


@dataclass(frozen=True)
class ServedModel:
    version: str
    metadata: dict
    session: ort.InferenceSession
    contract: ServingContract
    card: bytes | None = None  # the version's model card (HTML); None if published without

    def scores(self, columns: Mapping[str, Sequence]) -> np.ndarray:
        """Math scores for validated columns, in order, rounded to hundredths as
        `hundredths` rounds them, as one array: for callers that format them whole."""
        return in_cents(self._raw(columns)) / 100

    def predict(self, columns: Mapping[str, Sequence], options: msgspec.Struct | None) -> Scored:
        """The scores, with the interval and the contributions `options` (of the
        contract's QueryOptions type; None: neither) ask for."""
        scores, cents = hundredths(self._raw(columns))
        if options is None:
            return Scored(scores, cents)
        interval = {}
        if options.interval is not None:
            half_width = self.contract.options.half_widths[options.interval]
            target = self.contract.model.target
            values = scores if cents is None else cents / 100  # an array for many: no list read
            lower, upper = interval_ends(values, half_width, target.minimum, target.maximum)
            interval = {"interval_level": options.interval, "lower": lower, "upper": upper}
        if not options.explain:
            return Scored(scores, cents, **interval)
        names = self.contract.model.feature_names
        if not scores:
            empty = {name: np.empty(0) for name in names}
            baseline = round(self.contract.model.reference.math_score, 2)
            return Scored([], cents, **interval, contributions=empty, baseline=baseline)
        points, baseline = shapley_contributions(
            self.session, self.contract.model, columns, self.contract.model.reference.student
        )
        baseline = round(baseline, 2)
        rounded = _points_summing_to(points, np.asarray(scores) - baseline)
        return Scored(scores, cents, **interval, contributions=rounded, baseline=baseline)

    def _raw(self, columns: Mapping[str, Sequence]) -> np.ndarray:
        """The model's answers, unrounded, as float64."""
        if len(columns[self.contract.model.feature_names[0]]) == 0:
            return np.empty(0)  # onnxruntime refuses some graphs an empty batch
        (output,) = self.session.run(None, self.contract.model.feeds(columns))
        return output.reshape(-1).astype(np.float64)


def hundredths(values: np.ndarray) -> tuple[list[float], np.ndarray | None]:
    """The values rounded as np.round rounds (x100, to even, /100), and for more
    than a few their counts of hundredths; in Python for a few values, where
    numpy's per-call cost is most of a one-student answer's rounding."""
    if len(values) <= FEW_STUDENTS:
        return [round(value * 100) / 100 for value in values.tolist()], None
    cents = in_cents(values)
    return (cents / 100).tolist(), cents


def in_cents(values: np.ndarray) -> np.ndarray:
    """The values as whole hundredths, rounded half to even as np.round rounds."""
    return np.rint(values * 100)


def _points_summing_to(points: dict[str, np.ndarray], totals: np.ndarray) -> dict:
    """Each student's points in hundredths, summing exactly to their total (score -
    baseline, both in hundredths): floored, then the cents still missing go to the
    features with the largest remainders (the largest remainder method)."""
    names = list(points)
    if not names:
        return {}
    cents = np.column_stack([points[n] for n in names]) * 100  # students x features
    floor = np.floor(cents)
    missing = in_cents(totals).astype(np.int64) - floor.sum(axis=1).astype(np.int64)
    each, extra = np.divmod(missing, len(names))
    # rank[i, j]: feature j's place among student i's remainders, largest first
    rank = np.argsort(np.argsort(floor - cents, axis=1, kind="stable"), axis=1)
    floor += each[:, None] + (rank < extra[:, None])
    return {name: floor[:, j] / 100 for j, name in enumerate(names)}


def load_verified_model(store: ModelStore, version: str | None, threads: int) -> ServedModel:
    """Load a version, refusing it unless its SHA-256s (model and card), contract and
    parity sample check out."""
    stored = store.load(version)
    contract = ServingContract.from_metadata(stored.metadata)
    session = open_session(stored.onnx_bytes, intra_op_threads=threads)
    check_parity_sample(session, stored.metadata, contract.model)
    card = _card(store, stored.version)
    return ServedModel(stored.version, stored.metadata, session, contract, card)


def _card(store: ModelStore, version: str) -> bytes | None:
    """The version's card, read now so that no request touches the store; None for a
    version published without one. A card that fails its SHA-256 refuses the version,
    as an altered model file does: its files are not the ones published together."""
    try:
        return store.card(version)
    except IntegrityError:
        raise
    except StoreError:  # the store's word for "published without a card"
        return None
