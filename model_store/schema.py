"""The input contract recorded in each version's metadata, readable without scikit-learn.

`metadata["schema"]` lists the model's features in ONNX input order:
    {"name": "lunch", "kind": "categorical", "categories": ["free/reduced", "standard"]}
    {"name": "reading_score", "kind": "numeric", "minimum": 0, "maximum": 100}
and the target: {"name": "math_score", "minimum": 0, "maximum": 100}.
"""

from __future__ import annotations

CATEGORICAL = "categorical"
NUMERIC = "numeric"


def normalise_column_name(name: str) -> str:
    """Map either header of the public data set to one spelling.

    "race/ethnicity" and "race_ethnicity" both become "race_ethnicity"; a UTF-8
    byte-order mark (spreadsheets write one) and surrounding blanks are dropped.
    """
    return name.lstrip("\ufeff").strip().lower().replace(" ", "_").replace("/", "_")


def features(metadata: dict) -> list[dict]:
    return metadata["schema"]["features"]


def feature_names(metadata: dict) -> list[str]:
    return [f["name"] for f in features(metadata)]


def target_name(metadata: dict) -> str:
    return metadata["schema"]["target"]["name"]
