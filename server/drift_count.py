"""Students per field and cell of validated columns, as one flat count vector."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence

import numpy as np

from server.drift_reference import DriftReference


class CohortCounter:
    """Counts per field and cell of validated columns, as one flat vector.

    The parsers hand categories over as the contract's own str objects, so a large
    batch's categories are counted by address: one lookup over all its categorical
    columns at once, instead of a string comparison per student and category.
    Columns of other str objects (the parsers' slow paths) are counted by value,
    with the same result; so are batches of a few students, where numpy's per-call
    cost would outweigh the work.
    """

    SMALL_BATCH = 16  # students; at most this many are counted in plain Python

    def __init__(self, reference: DriftReference) -> None:
        self.reference = reference
        offsets = reference.offsets
        self._categorical = [
            (f, offsets[i]) for i, f in enumerate(reference.fields) if f.categories
        ]
        self._numeric = [
            (f, offsets[i]) for i, f in enumerate(reference.fields) if not f.categories
        ]
        self._slots = _AddressSlots([(f.categories, offset) for f, offset in self._categorical])
        self._cell_by_value = {
            f.name: {c: offset + i for i, c in enumerate(f.categories)}
            for f, offset in self._categorical
        }
        self._edges = {f.name: f.edges.tolist() for f, _ in self._numeric}
        self._size = offsets[-1]

    def as_arrays(self, columns: Mapping[str, Sequence]) -> dict[str, Sequence]:
        """The columns as the model's feeds take them (categories as objects, scores
        as float32), so counting and scoring convert each column once between them."""
        arrays = dict(columns)
        if len(next(iter(columns.values()), ())) <= self.SMALL_BATCH:
            return arrays  # counted in plain Python; the model converts these few itself
        for field, _ in self._categorical:
            arrays[field.name] = np.asarray(columns[field.name], dtype=object)
        for field, _ in self._numeric:
            arrays[field.name] = np.asarray(columns[field.name], dtype=np.float32)
        return arrays

    def count(self, columns: Mapping[str, Sequence], size: int) -> np.ndarray:
        """Students per cell of every field (int64, `reference.offsets` apart)."""
        if not size:
            return np.zeros(self._size, dtype=np.int64)
        if size <= self.SMALL_BATCH:
            return np.bincount(self.cells_by_value(columns), minlength=self._size)
        codes = [self._categorical_cells(columns)] if self._categorical else []
        for field, offset in self._numeric:
            # Float32 as the model sees them, compared exactly with the float64 edges.
            scores = np.asarray(columns[field.name])
            codes.append(np.searchsorted(field.edges, scores, side="right") + offset)
        return np.bincount(np.concatenate(codes, axis=None), minlength=self._size)

    def cells_by_value(self, columns: Mapping[str, Sequence]) -> list[int]:
        """The cell of each student in each field, in plain Python (for a few students)."""
        codes = [cells[v] for name, cells in self._cell_by_value.items() for v in columns[name]]
        for field, offset in self._numeric:
            edges = self._edges[field.name]
            codes.extend(offset + bisect.bisect_right(edges, v) for v in columns[field.name])
        return codes

    def takes_address_path(self, columns: Mapping[str, Sequence]) -> bool:
        """Whether these columns' categories are the contract's own objects."""
        return self._slots.usable and self._slots.cells(self._table(columns)) is not None

    def _table(self, columns: Mapping[str, Sequence]) -> np.ndarray:
        return np.stack([np.asarray(columns[f.name], dtype=object) for f, _ in self._categorical])

    def _categorical_cells(self, columns: Mapping[str, Sequence]) -> np.ndarray:
        cells = self._slots.cells(self._table(columns)) if self._slots.usable else None
        if cells is not None:
            return cells
        return np.array(
            [
                [cells[value] for value in columns[name]]
                for name, cells in self._cell_by_value.items()
            ],
            dtype=np.intp,
        )


class _AddressSlots:
    """A perfect hash of the category objects' addresses, row by row of the table.

    Slot = (address >> shift) & mask, offset by the row; the first shift and mask
    under which each field's objects take distinct slots are kept. A slot is only
    trusted if it holds that very address, so any other object sends the batch to
    the count by value.
    """

    def __init__(self, fields: list[tuple[tuple[str, ...], int]]) -> None:
        """`fields`: per row of the table, its category objects and its first cell."""
        self.usable = False
        widest = max((len(c) for c, _ in fields), default=1)
        for bits in range(max(widest - 1, 1).bit_length(), 13):
            for shift in (4, 3, 5, 6, 0, 1, 2, 7, 8):
                mask = (1 << bits) - 1
                slots = [{(id(v) >> shift) & mask for v in c} for c, _ in fields]
                if all(len(s) == len(c) for s, (c, _) in zip(slots, fields, strict=True)):
                    self._build(fields, shift, mask)
                    return

    def _build(self, fields: list, shift: int, mask: int) -> None:
        self.usable = True
        self._shift, self._mask = shift, mask
        size = (mask + 1) * len(fields)
        self._address = np.zeros(size, dtype=np.intp)  # no object lives at address 0
        self._cell = np.zeros(size, dtype=np.intp)
        for row, (categories, offset) in enumerate(fields):
            for index, value in enumerate(categories):
                slot = row * (mask + 1) + ((id(value) >> shift) & mask)
                self._address[slot] = id(value)
                self._cell[slot] = offset + index
        self._row_base = (np.arange(len(fields)) * (mask + 1))[:, None]

    def cells(self, table: np.ndarray) -> np.ndarray | None:
        """Each object's cell, or None if any is not one of the category objects."""
        # The addresses of the table's objects, read in place (the table stays alive).
        addresses = np.asarray(_ArrayInterface(table))
        slots = addresses >> self._shift
        slots &= self._mask
        slots += self._row_base
        if not (self._address[slots] == addresses).all():
            return None
        return self._cell[slots]


class _ArrayInterface:
    """An object array's pointers as integers (numpy refuses to view references)."""

    def __init__(self, table: np.ndarray) -> None:
        self.__array_interface__ = {
            "data": (table.ctypes.data, True),
            "shape": table.shape,
            "typestr": np.dtype(np.intp).str,
            "version": 3,
        }
