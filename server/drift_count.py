"""Students per field and cell of validated columns, as one flat count vector."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from itertools import chain

import numpy as np

from model_store.contract import holds_codes
from server.batch import FEW_STUDENTS
from server.drift_reference import DriftReference


class CohortCounter:
    """Counts per field and cell of validated columns, as one flat vector.

    The parsers hand categories over as their codes (the index in the contract's
    categories, which is also the cell's index in the field), so a batch is counted
    by one np.bincount per categorical field. Categories given as text (tests,
    scripts) are coded first. Batches of a few students are counted in plain
    Python, where numpy's per-call cost would outweigh the work.
    """

    SMALL_BATCH = FEW_STUDENTS  # at most this many are counted in plain Python

    def __init__(self, reference: DriftReference) -> None:
        self.reference = reference
        offsets = reference.offsets
        self._categorical = [
            (f.name, offsets[i]) for i, f in enumerate(reference.fields) if f.categories
        ]
        self._numeric = [
            (f, offsets[i]) for i, f in enumerate(reference.fields) if not f.categories
        ]
        self._code_of = {
            f.name: {c: i for i, c in enumerate(f.categories)}
            for f in reference.fields
            if f.categories
        }
        self._edges = {f.name: f.edges.tolist() for f, _ in self._numeric}
        self._size = offsets[-1]

    def as_arrays(self, columns: Mapping[str, Sequence]) -> dict[str, Sequence]:
        """The columns with scores as float32, as the model takes them, so counting
        and scoring convert each score column once between them."""
        arrays = dict(columns)
        if len(next(iter(columns.values()), ())) <= self.SMALL_BATCH:
            return arrays  # counted in plain Python; the model converts these few itself
        for field, _ in self._numeric:
            arrays[field.name] = np.asarray(columns[field.name], dtype=np.float32)
        return arrays

    def count(self, columns: Mapping[str, Sequence], size: int) -> np.ndarray:
        """Students per cell of every field (int64, `reference.offsets` apart)."""
        if not size:
            return np.zeros(self._size, dtype=np.int64)
        if size <= self.SMALL_BATCH:
            return np.bincount(self.cells_by_value(columns), minlength=self._size)
        counts = np.empty(self._size, dtype=np.int64)
        for name, offset in self._categorical:
            cells = counts[offset : offset + len(self._code_of[name])]
            cells[:] = np.bincount(self._codes(name, columns[name]), minlength=len(cells))
        for field, offset in self._numeric:
            # A bin's count is the students under its upper edge less those under its
            # lower one (none below the lowest bin, all below the highest's top), found
            # in the sorted scores: several times cheaper than placing each student.
            # Float32 as the model sees them, compared exactly with the float64 edges.
            under = np.empty(len(field.edges) + 2, dtype=np.int64)
            under[0], under[-1] = 0, size
            under[1:-1] = np.sort(columns[field.name]).searchsorted(field.edges)
            np.subtract(under[1:], under[:-1], out=counts[offset : offset + len(under) - 1])
        return counts

    def joined(self, batches: Sequence[Mapping[str, Sequence]]) -> tuple[int, dict]:
        """Several requests' columns as one batch, and its size: one conversion per
        field, not one per request (these are many requests of a few students)."""
        joined = {}
        for name, _ in self._categorical:
            joined[name] = self._codes(name, list(chain.from_iterable(b[name] for b in batches)))
        for field, _ in self._numeric:
            scores = chain.from_iterable(b[field.name] for b in batches)
            joined[field.name] = np.fromiter(scores, np.float64)
        return len(next(iter(joined.values()), ())), joined

    def cells_by_value(self, columns: Mapping[str, Sequence]) -> list[int]:
        """The cell of each student in each field, in plain Python (for a few students)."""
        cells = [
            offset + int(code)
            for name, offset in self._categorical
            for code in self._codes(name, columns[name])
        ]
        for field, offset in self._numeric:
            edges = self._edges[field.name]
            cells.extend(offset + bisect.bisect_right(edges, v) for v in columns[field.name])
        return cells

    def _codes(self, name: str, values: Sequence) -> Sequence[int]:
        if holds_codes(values):
            return values
        return np.fromiter(map(self._code_of[name].__getitem__, values), np.intp, len(values))
