"""The served model's contract, read once from a version's metadata.

`metadata["schema"]` (written at export, see export/metadata.py) is read here
and nowhere else: export's parity run, the store's `verify` and the server all
feed the ONNX graph through a `ModelContract`. The optional `intervals` and
`reference` (what answers with ranges and contributions need) are read here
too. Needs numpy and msgspec only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


class ModelContract(msgspec.Struct, frozen=True):
    """The features in ONNX input order, the target with its bounds, and what the
    version carries for intervals and contributions (None when it does not)."""

    features: tuple[Feature, ...]
    target: Target
    intervals: Intervals | None = None
    reference: Reference | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping) -> ModelContract:
        """The contract of a version; IntegrityError if its schema cannot be read."""
        version = metadata.get("version", "(unpublished)")
        try:
            schema = metadata["schema"]
            contract = msgspec.convert(
                {
                    "features": schema["features"],
                    "target": schema["target"],
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

    def feeds(self, columns: Mapping[str, Sequence]) -> dict[str, np.ndarray]:
        """One (n, 1) array per feature: strings as objects, scores as float32."""
        feeds = {}
        for feature in self.features:
            values = columns[feature.name]
            if isinstance(feature, CategoricalFeature):
                # asarray: an object array (the CSV path's) is used as it is, not copied.
                array = np.asarray(values, dtype=object)
            else:
                array = np.asarray(values, dtype=np.float32)
            feeds[feature.name] = array.reshape(-1, 1)
        return feeds

    def columns(self, records: Sequence[Mapping]) -> dict[str, list]:
        """Records (one mapping per student) as one list per feature."""
        return {name: [r[name] for r in records] for name in self.feature_names}
