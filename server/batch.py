"""A validated request: the students as columns, ready for the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Batch:
    # feature name -> values in request order; a category as its code (an np.intp
    # array: its index in the contract's categories), a score as a number
    columns: dict[str, Sequence]
    ids: list | None  # None when no student carried an id
    single: bool  # one JSON object rather than an array
    size: int
