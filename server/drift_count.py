"""Students per field and cell of validated columns, as one flat count vector.

A batch is tallied first, then its tally read as cells. The tally is the cells
themselves, except for a score whose bin edges are whole numbers: there it holds
the students per whole part of the score (0, 1, ... 100), which `cells` sums into
bins. Live counting adds each request's tally up and reads it as cells once per
flush, so no request pays for placing its students in bins.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from itertools import chain

import numpy as np

from model_store.contract import holds_codes
from server.batch import FEW_STUDENTS
from server.drift_reference import DriftReference, FieldReference

LARGEST_WHOLE_PART = 10_000  # a score tallied per whole part keeps one cell for each


class CohortCounter:
    """Counts per field and cell of validated columns, as one flat vector.

    The parsers hand categories over as their codes (the index in the contract's
    categories, which is also the cell's index in the field), so a categorical
    field is counted by one np.bincount, or one np.count_nonzero where it has two
    categories. Categories given as text (tests, scripts) are coded first. Batches
    of a few students are counted in plain Python, where numpy's per-call cost
    would outweigh the work.
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
        # Each category's code, from its text or its code: one request's categories may
        # come as text (scripts), another's as codes (the parsers).
        self._code_of = {
            f.name: {c: i for i, c in enumerate(f.categories)} | {i: i for i in range(f.size)}
            for f in reference.fields
            if f.categories
        }
        self._edges = {f.name: f.edges.tolist() for f, _ in self._numeric}
        self._size = offsets[-1]
        # Where each field's tally starts, by how it is tallied.
        self._two, self._several, self._by_whole_part, self._binned = [], [], [], []
        self._reads: list[tuple[int, int, np.ndarray | None]] = []  # per field, for `cells`
        at = 0
        for field in reference.fields:
            parts = _whole_parts(field)
            if field.categories:
                if field.size == 2:
                    self._two.append((field.name, at))
                else:
                    self._several.append((field.name, at, field.size))
            elif parts is None:
                self._binned.append((field, at))
            else:
                self._by_whole_part.append((field.name, at, parts))
            width = field.size if parts is None else parts
            # A whole edge e has the students whose score's whole part is below e under it.
            under = None if parts is None else np.clip(field.edges, 0, parts).astype(np.intp)
            self._reads.append((at, width, under))
            at += width
        self.tally_size = at

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
        tally = np.zeros(self.tally_size, dtype=np.int64)
        self.tally(columns, size, tally)
        return self.cells(tally)

    def tally(self, columns: Mapping[str, Sequence], size: int, into: np.ndarray) -> None:
        """Add a batch of more than a few students to a tally (`tally_size` int64)."""
        for name, at in self._two:
            ones = np.count_nonzero(self._codes(name, columns[name]))  # the second's students
            into[at] += size - ones
            into[at + 1] += ones
        for name, at, width in self._several:
            into[at : at + width] += np.bincount(self._codes(name, columns[name]), minlength=width)
        for name, at, parts in self._by_whole_part:
            # Truncation is the whole part, as no score here is negative.
            whole = np.asarray(columns[name]).astype(np.intp)
            into[at : at + parts] += _histogram(whole, parts)
        for field, at in self._binned:
            into[at : at + field.size] += _bins_of_sorted(columns[field.name], field.edges, size)

    def cells(self, tally: np.ndarray) -> np.ndarray:
        """A tally read as students per cell (int64, `reference.offsets` apart)."""
        pieces = []
        for at, width, under in self._reads:
            piece = tally[at : at + width]
            if under is not None:
                below = np.concatenate(([0], np.cumsum(piece)))  # below[k]: whole parts < k
                piece = np.diff(np.concatenate(([0], below[under], below[-1:])))
            pieces.append(piece)
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)

    def joined(self, batches: Sequence[Mapping[str, Sequence]]) -> tuple[int, dict]:
        """Several requests' columns as one batch, and its size: one conversion per
        field, not one per request (these are many requests of a few students)."""
        joined = {}
        for name, _ in self._categorical:
            values = chain.from_iterable(b[name] for b in batches)
            joined[name] = np.fromiter(map(self._code_of[name].__getitem__, values), np.intp)
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


def _whole_parts(field: FieldReference) -> int | None:
    """How many whole parts a score field is tallied by (0 up to its maximum's), or None
    if it is tallied by bin: a categorical field, edges that are not whole numbers (a
    whole part k then holds scores either side of an edge), or negative scores (whose
    truncation is not their whole part)."""
    if field.categories or field.minimum < 0 or not 0 < field.maximum <= LARGEST_WHOLE_PART:
        return None
    if not np.all(field.edges == np.floor(field.edges)):
        return None
    # The largest whole part a score can have, as float64 or as the model's float32.
    return int(max(np.floor(field.maximum), np.floor(np.float32(field.maximum)))) + 1


def _histogram(whole: np.ndarray, parts: int) -> np.ndarray:
    """Students per whole part, `parts` long: any above the range (validation lets none
    through) kept in the top one, so counted, in the top bin unless an edge lies above
    the maximum (training deciles cannot)."""
    counts = np.bincount(whole, minlength=parts)
    if counts.size > parts:
        counts = np.append(counts[: parts - 1], counts[parts - 1 :].sum())
    return counts


def _bins_of_sorted(scores: Sequence, edges: np.ndarray, size: int) -> np.ndarray:
    """Students per bin, from the sorted scores: a bin's count is the students under its
    upper edge less those under its lower one (none below the lowest bin, all below the
    highest's top), several times cheaper than placing each student. Float32 as the
    model sees them, compared exactly with the float64 edges."""
    under = np.empty(len(edges) + 2, dtype=np.int64)
    under[0], under[-1] = 0, size
    under[1:-1] = np.sort(scores).searchsorted(edges)
    return np.diff(under)
