"""The served model's input contract, read once from a version's metadata.

`metadata["schema"]` (written at export, see export/metadata.py) is read here
and nowhere else: export's parity run, the store's `verify` and the server all
feed the ONNX graph through a `ModelContract`. Needs numpy and msgspec only.
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


class ModelContract(msgspec.Struct, frozen=True):
    """The features in ONNX input order, and the target with its bounds."""

    features: tuple[Feature, ...]
    target: Target

    @classmethod
    def from_metadata(cls, metadata: Mapping) -> ModelContract:
        """The contract of a version; IntegrityError if its schema cannot be read."""
        try:
            return msgspec.convert(metadata["schema"], cls)
        except (KeyError, TypeError, msgspec.ValidationError) as exc:
            version = metadata.get("version", "(unpublished)")
            raise IntegrityError(
                f"version {version}: the metadata's schema cannot be read ({exc}); "
                "publish the model again"
            ) from None

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
