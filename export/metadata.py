"""What a published version says about itself: everything the server needs, and provenance."""

from __future__ import annotations

from importlib.metadata import version

import onnx
import pandas as pd
from sklearn.pipeline import Pipeline

from export.convert import INPUT_NAME
from export.parity import ParityReport, clipped_predictions
from model_store.schema import CATEGORICAL, NUMERIC
from train.columns import CATEGORICAL_FEATURES, SCORE_MAX, SCORE_MIN, TARGET
from train.pipeline import CATEGORIES_TRANSFORMER, PREPROCESS_STEP

EXPORT_LIBRARIES = ("skl2onnx", "onnx", "onnxruntime")
PARITY_SAMPLE_ROWS = 20


def input_schema(pipeline: Pipeline) -> dict:
    """Features in input column order; categories are those the fitted encoder knows,
    in its order, which is also their codes' (0, 1, ...) in the graph's input."""
    encoder = pipeline.named_steps[PREPROCESS_STEP].named_transformers_.get(CATEGORIES_TRANSFORMER)
    categories = (
        dict(zip(encoder.feature_names_in_, encoder.categories_, strict=True)) if encoder else {}
    )
    features = []
    for name in pipeline.feature_names_in_:  # every feature but those excluded
        if name in categories:
            features.append(
                {
                    "name": name,
                    "kind": CATEGORICAL,
                    "categories": [str(c) for c in categories[name]],
                }
            )
        else:
            features.append(
                {"name": name, "kind": NUMERIC, "minimum": SCORE_MIN, "maximum": SCORE_MAX}
            )
    names = [feature["name"] for feature in features]
    return {
        "features": features,
        "input": {"name": INPUT_NAME, "dtype": "float32", "columns": names},
        "target": {"name": TARGET, "minimum": SCORE_MIN, "maximum": SCORE_MAX},
    }


def parity_sample(pipeline: Pipeline, holdout: pd.DataFrame) -> dict:
    """A few holdout records with scikit-learn's answers, so `verify` and the server
    can re-check parity later without scikit-learn."""
    rows = holdout.head(PARITY_SAMPLE_ROWS)
    features = list(pipeline.feature_names_in_)
    records = [
        {
            name: (str(row[name]) if name in CATEGORICAL_FEATURES else float(row[name]))
            for name in features
        }
        for _, row in rows.iterrows()
    ]
    expected = clipped_predictions(pipeline, rows, input_schema(pipeline)["target"])
    return {"records": records, "expected": [float(v) for v in expected]}


def build_metadata(
    run: dict, pipeline: Pipeline, holdout: pd.DataFrame, parity: ParityReport, onnx_bytes: bytes
) -> dict:
    """Everything but what the store adds itself (version, time, SHA-256)."""
    return {
        "schema": input_schema(pipeline),
        "onnx": {
            # What the graph imports, which can be below the ceiling asked of skl2onnx.
            "opset": {o.domain: o.version for o in onnx.load_from_string(onnx_bytes).opset_import},
            "inputs": [INPUT_NAME],
            "output": TARGET,
        },
        "estimator": run["estimator"],
        "metrics": run["metrics"],
        "leaderboard": run["leaderboard"],
        "parity": {
            "max_abs_diff": parity.max_abs_diff,
            "rows_checked": parity.rows_checked,
            "tolerance": parity.tolerance,
        },
        "parity_sample": parity_sample(pipeline, holdout),
        "group_errors": run["group_errors"],
        "excluded_features": run["excluded_features"],
        "exclusion_cost": run["exclusion_cost"],
        "training_data": run["training_data"],
        "seed": run["seed"],
        "libraries": {**run["libraries"], **{name: version(name) for name in EXPORT_LIBRARIES}},
    }
