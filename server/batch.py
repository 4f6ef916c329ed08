"""A validated request: the students as columns, ready for the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Batch:
    columns: dict[str, Sequence]  # feature name -> values in request order
    ids: list | None  # None when no student carried an id
    single: bool  # one JSON object rather than an array
    size: int
