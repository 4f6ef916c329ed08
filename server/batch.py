"""A validated request: the students as columns, ready for the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Up to this many students a request is handled in plain Python lists: numpy's
# per-call cost would be most of the work.
FEW_STUDENTS = 16


@dataclass(frozen=True)
class Batch:
    # feature name -> values in request order; a category as its code (its index in
    # the contract's categories: an np.intp array, a list for FEW_STUDENTS), a score
    # as a number
    columns: dict[str, Sequence]
    ids: list | None  # None when no student carried an id
    single: bool  # one JSON object rather than an array
    size: int
