"""The served model's contract, read once from a version's metadata.

`metadata["schema"]` (written at export, see export/metadata.py) is read here
and nowhere else: export's parity run, the store's `verify` and the server all
feed the ONNX graph through a `ModelContract`. The graph takes one float32
tensor [n, k] (`schema["input"]`): the features in schema order, a category as
its index in the feature's `categories`, a score as itself. The optional `intervals` and
`reference` (what answers with ranges and contributions need) are read here
too. Needs numpy and msgspec only.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import msgspec
import numpy as np

from model_store.store import IntegrityError

CATEGORICAL = "categorical"
NUMERIC = "numeric"


def normalise_column_name(name: str) -> str:
    """Map either header of the public data set to one spelling.

    "race/ethnicity" and "race_ethnicity" both become "race_ethnicity"; a UTF-8
    byte-order mark (spreadsheets write one) and surrounding blanks are dropped.
    """
    return name.lstrip("\ufeff").strip().lower().replace(" ", "_").replace("/", "_")


class CategoricalFeature(msgspec.Struct, frozen=True, tag_field="kind", tag=CATEGORICAL):
    name: str
    categories: tuple[str, ...]  # as the fitted encoder knows them


class NumericFeature(msgspec.Struct, frozen=True, tag_field="kind", tag=NUMERIC):
    name: str
    minimum: float
    maximum: float


Feature = CategoricalFeature | NumericFeature


class Target(msgspec.Struct, frozen=True):
    name: str
    minimum: float
    maximum: float


class Intervals(msgspec.Struct, frozen=True):
    """Split-conformal half-widths per level ("90": points either side of a score)."""

    method: str
    half_widths: dict[str, float]
    holdout_coverage: dict[str, float] = {}
    holdout_rows: int = 0
    tolerance: dict[str, float] = {}

    def __post_init__(self) -> None:
        for level, width in self.half_widths.items():
            if not level.isdigit() or not 0 < int(level) < 100 or not width >= 0:
                raise ValueError(f"interval level {level!r}: {width!r} is not a level's width")

    @property
    def levels(self) -> dict[int, float]:
        """Half-widths by whole-percent level, lowest level first."""
        return dict(sorted((int(level), width) for level, width in self.half_widths.items()))


class Reference(msgspec.Struct, frozen=True):
    """The student contributions are measured from, and the model's score for them."""

    student: dict[str, str | float]
    math_score: float


class InputLayout(msgspec.Struct, frozen=True):
    """The graph's one input: its tensor name and the feature in each column."""

    name: str
    columns: tuple[str, ...]
    dtype: Literal["float32"] = "float32"


class ModelContract(msgspec.Struct, frozen=True):
    """The features in input column order, the target with its bounds, and what the
    version carries for intervals and contributions (None when it does not)."""

    features: tuple[Feature, ...]
    target: Target
    input: InputLayout
    intervals: Intervals | None = None
    reference: Reference | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping) -> ModelContract:
        """The contract of a version; IntegrityError if its schema cannot be read."""
        version = metadata.get("version", "(unpublished)")
        schema = metadata.get("schema")
        if isinstance(schema, Mapping) and "features" in schema and "input" not in schema:
            # Exported before the graph took one matrix: one string tensor per feature.
            raise IntegrityError(
                f"version {version} takes one input per feature, a layout this server no "
                "longer feeds; publish the model again (python -m export)"
            )
        try:
            contract = msgspec.convert(
                {
                    "features": schema["features"],
                    "target": schema["target"],
                    "input": schema["input"],
                    "intervals": metadata.get("intervals"),
                    "reference": metadata.get("reference"),
                },
                cls,
            )
        except (KeyError, TypeError, ValueError, msgspec.ValidationError) as exc:
            raise IntegrityError(
                f"version {version}: the metadata's schema cannot be read ({exc}); "
                "publish the model again"
            ) from None
        if contract.input.columns != contract.feature_names:
            raise IntegrityError(
                f"version {version}: the input's columns {list(contract.input.columns)} are "
                "not the schema's features; publish the model again"
            )
        if contract.reference is not None:
            missing = [n for n in contract.feature_names if n not in contract.reference.student]
            if missing:
                raise IntegrityError(
                    f"version {version}: the reference student lacks {', '.join(missing)}; "
                    "publish the model again"
                )
        return contract

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def codes(self, name: str, values: Iterable[str]) -> np.ndarray:
        """Valid categories of feature `name` as their codes (KeyError for any other)."""
        return _codes(self.feature(name), values)

    def category_codes(self, name: str) -> dict[str, int]:
        """Feature `name`'s categories and their codes."""
        return dict(_code_table(self.feature(name)))

    def feature(self, name: str) -> Feature:
        """The feature called `name` (KeyError if the model has none)."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    def encode(self, columns: Mapping[str, Sequence]) -> np.ndarray:
        """The graph's input, float32 [n, k]: a categorical column may hold integer
        codes (as the server's parsers give them) or the categories themselves."""
        matrix = np.empty((len(columns[self.features[0].name]), len(self.features)), np.float32)
        for j, feature in enumerate(self.features):
            values = columns[feature.name]
            if isinstance(feature, CategoricalFeature) and not holds_codes(values):
                values = _codes(feature, values)
            matrix[:, j] = values
        return matrix

    def feeds(self, columns: Mapping[str, Sequence]) -> dict[str, np.ndarray]:
        """The graph's feeds: its one input, as `encode` builds it."""
        return {self.input.name: self.encode(columns)}

    def columns(self, records: Sequence[Mapping]) -> dict[str, list]:
        """Records (one mapping per student) as one list per feature."""
        return {name: [r[name] for r in records] for name in self.feature_names}


@functools.cache
def _code_table(feature: CategoricalFeature) -> dict[str, int]:
    return {category: code for code, category in enumerate(feature.categories)}


def _codes(feature: CategoricalFeature, values: Iterable[str]) -> np.ndarray:
    return np.fromiter(map(_code_table(feature).__getitem__, values), dtype=np.intp)


def holds_codes(values: Sequence) -> bool:
    """Whether a categorical column holds codes (an integer array, or a list of ints
    as the parsers give a few students), not the categories' text."""
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "iu"
    return len(values) > 0 and isinstance(values[0], int | np.integer)
