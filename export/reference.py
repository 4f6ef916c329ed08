"""The reference student whose score per-student contributions are measured from."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pandas as pd

from model_store.onnx_io import build_feeds, predict
from model_store.schema import CATEGORICAL, features


def reference_student(metadata: dict, train: pd.DataFrame) -> dict:
    """The training split's modal category of each categorical feature and mean of each score."""
    student = {}
    for feature in features(metadata):
        values = train[feature["name"]]
        if feature["kind"] == CATEGORICAL:
            counts = values.astype(str).value_counts()
            # Ties go to the first in sorted order, so the reference never depends on row order.
            student[feature["name"]] = min(counts.index[counts == counts.max()])
        else:
            student[feature["name"]] = float(np.mean(values.to_numpy(dtype=np.float64)))
    return student


def reference(metadata: dict, train: pd.DataFrame, session: ort.InferenceSession) -> dict:
    """The metadata's `reference`: the student and the served graph's score for them."""
    student = reference_student(metadata, train)
    columns = {name: [value] for name, value in student.items()}
    (score,) = predict(session, build_feeds(metadata, columns))
    return {"student": student, "math_score": float(score)}
