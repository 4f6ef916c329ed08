"""A version's `drift_reference`: the training split's shares per served feature.

Per category, or per score bin (training deciles as edges; a score falls in bin i
when edges[i-1] <= score < edges[i], as `np.searchsorted(..., side="right")`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_store.contract import CategoricalFeature, ModelContract
from model_store.store import IntegrityError


@dataclass(frozen=True)
class FieldReference:
    name: str
    categories: tuple[str, ...] | None  # the contract's own str objects; None for a score
    edges: np.ndarray | None  # inner bin edges of a score
    shares: np.ndarray  # one per category or bin, as in the training split
    minimum: float = 0.0
    maximum: float = 100.0

    @property
    def cells(self) -> list[str]:
        """Label of each counted cell: the category, or the bin's index."""
        return list(self.categories) if self.categories else [str(i) for i in range(self.size)]

    @property
    def size(self) -> int:
        return len(self.shares)


@dataclass(frozen=True)
class DriftReference:
    rows: int  # training students the shares come from
    fields: tuple[FieldReference, ...]

    @classmethod
    def from_metadata(
        cls, metadata: dict, model: ModelContract | None = None
    ) -> DriftReference | None:
        """The served features' references, or None if the version carries none;
        IntegrityError if it carries one that cannot be read."""
        recorded = metadata.get("drift_reference")
        if not recorded:
            return None
        model = model or ModelContract.from_metadata(metadata)
        try:
            fields = [
                _field(feature, recorded["fields"][feature.name])
                for feature in model.features
                if feature.name in recorded["fields"]
            ]
            return cls(int(recorded["rows"]), tuple(fields))
        except (KeyError, TypeError, ValueError) as exc:
            version = metadata.get("version", "(unpublished)")
            raise IntegrityError(
                f"version {version}: its drift_reference cannot be read ({exc!r}); "
                "publish the model again"
            ) from None

    @property
    def offsets(self) -> list[int]:
        """Where each field's cells start in a flat count vector."""
        return np.cumsum([0] + [f.size for f in self.fields]).tolist()


def _field(feature, recorded: dict) -> FieldReference:
    if isinstance(feature, CategoricalFeature):
        shares = [float(recorded["shares"].get(c, 0.0)) for c in feature.categories]
        return FieldReference(feature.name, feature.categories, None, np.array(shares))
    edges = np.asarray(recorded["edges"], dtype=np.float64)
    shares = np.asarray(recorded["shares"], dtype=np.float64)
    if shares.shape != (len(edges) + 1,):
        raise ValueError(f"{feature.name}: {len(edges)} edges need {len(edges) + 1} shares")
    return FieldReference(
        feature.name, None, edges, shares, float(feature.minimum), float(feature.maximum)
    )
