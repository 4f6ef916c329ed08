"""The input contract recorded in each version's metadata, as export writes it.

`metadata["schema"]` lists the model's features in the input's column order:
    {"name": "lunch", "kind": "categorical", "categories": ["free/reduced", "standard"]}
    {"name": "reading_score", "kind": "numeric", "minimum": 0, "maximum": 100}
the graph's input: {"name": "students", "dtype": "float32", "columns": [...]}
(a category as its index in `categories`), and the target:
{"name": "math_score", "minimum": 0, "maximum": 100}.
`model_store.contract.ModelContract` is its only reader; the helpers here are
for scripts and tests that want the features as plain dicts.
"""

from __future__ import annotations

import msgspec

from model_store.contract import CATEGORICAL, NUMERIC, ModelContract, normalise_column_name

__all__ = ["CATEGORICAL", "NUMERIC", "feature_names", "features", "normalise_column_name"]


def features(metadata: dict) -> list[dict]:
    # Through JSON, so that every sequence is a list as in the metadata itself.
    return msgspec.json.decode(msgspec.json.encode(ModelContract.from_metadata(metadata).features))


def feature_names(metadata: dict) -> list[str]:
    return list(ModelContract.from_metadata(metadata).feature_names)
