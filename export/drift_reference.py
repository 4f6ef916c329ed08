"""What the training students looked like, for the server to compare incoming students with.

A score falls in bin i when edges[i-1] <= score < edges[i] (bin 0 below the first edge, the
last bin at or above the last), as `numpy.searchsorted(edges, scores, side="right")` counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model_store.schema import CATEGORICAL, NUMERIC, features

DECILES = np.linspace(0.1, 0.9, 9)


def score_bins(values: np.ndarray) -> tuple[list[float], list[float]]:
    """Inner edges at the deciles (repeats merged, as integer scores can tie) and bin shares."""
    edges = np.unique(np.quantile(values, DECILES))
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return [float(e) for e in edges], [float(c) for c in counts / len(values)]


def drift_reference(metadata: dict, train: pd.DataFrame) -> dict:
    """The metadata's `drift_reference`: per served feature, the training split's shares."""
    fields = {}
    for feature in features(metadata):
        name = feature["name"]
        if feature["kind"] == CATEGORICAL:
            counts = train[name].astype(str).value_counts()
            shares = {str(v): float(counts.get(v, 0) / len(train)) for v in feature["categories"]}
            fields[name] = {"kind": CATEGORICAL, "shares": shares}
        else:
            edges, shares = score_bins(train[name].to_numpy(dtype=np.float64))
            fields[name] = {"kind": NUMERIC, "edges": edges, "shares": shares}
    return {"rows": len(train), "fields": fields}
