"""Certifying that the ONNX graph computes what scikit-learn computes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from model_store.onnx_io import PARITY_TOLERANCE, build_feeds, open_session, predict


class ParityError(Exception):
    """The ONNX graph's predictions differ from scikit-learn's beyond the tolerance."""


@dataclass(frozen=True)
class ParityReport:
    max_abs_diff: float
    rows_checked: int
    worst_row: int
    sklearn_value: float
    onnx_value: float
    tolerance: float = PARITY_TOLERANCE


def fitted_features(pipeline: Pipeline) -> list[str]:
    """The features the pipeline was fitted on: all but those excluded from training."""
    return [str(name) for name in pipeline.feature_names_in_]


def clipped_predictions(pipeline: Pipeline, frame: pd.DataFrame, target: dict) -> np.ndarray:
    """scikit-learn's scores clipped to the target's range, as the ONNX graph clips them."""
    predicted = pipeline.predict(frame[fitted_features(pipeline)]).astype(np.float64)
    return np.clip(predicted, target["minimum"], target["maximum"])


def measure_parity(
    pipeline: Pipeline, onnx_bytes: bytes, metadata: dict, frame: pd.DataFrame
) -> ParityReport:
    """Run both on every row of `frame` and find the largest difference."""
    expected = clipped_predictions(pipeline, frame, metadata["schema"]["target"])
    columns = {name: frame[name].tolist() for name in fitted_features(pipeline)}
    got = predict(open_session(onnx_bytes), build_feeds(metadata, columns))
    diff = np.abs(got - expected)
    worst = int(np.argmax(diff)) if len(diff) else 0
    return ParityReport(
        max_abs_diff=float(diff[worst]) if len(diff) else 0.0,
        rows_checked=len(frame),
        worst_row=worst,
        sklearn_value=float(expected[worst]) if len(diff) else 0.0,
        onnx_value=float(got[worst]) if len(diff) else 0.0,
    )


def certify(report: ParityReport) -> None:
    # `not <=` so that a NaN difference fails too.
    if not report.max_abs_diff <= report.tolerance:
        raise ParityError(
            f"ONNX parity failed: max |onnx - scikit-learn| = {report.max_abs_diff:.6g} math "
            f"points over {report.rows_checked} rows, tolerance {report.tolerance}; worst row "
            f"{report.worst_row}: scikit-learn {report.sklearn_value:.6f}, "
            f"onnxruntime {report.onnx_value:.6f}"
        )
