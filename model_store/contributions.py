"""Per-student contributions: exact Shapley values of each served feature against a reference.

A feature's contribution is its marginal effect on the score, averaged over every coalition
of the other features with the Shapley weights, the absent features taking the reference
student's values. The contributions then sum to score − baseline, the baseline being the
reference student's score. With n features that is 2^n rows per student, all scored in one
onnxruntime call, so any graph the export can publish is explained through the graph alone.
Needs onnxruntime and numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import factorial

import numpy as np
import onnxruntime as ort

from model_store.onnx_io import build_feeds, predict
from model_store.schema import CATEGORICAL, features


def coalitions(count: int) -> np.ndarray:
    """Every subset of `count` features as a (2^count, count) boolean matrix: row m holds
    feature j exactly when bit j of m is set, so row 0 is the reference, the last row x."""
    return (np.arange(2**count)[:, None] >> np.arange(count)) & 1 == 1


def shapley_weights(count: int) -> np.ndarray:
    """The weight s!·(n − s − 1)!/n! of a coalition of s other features, for s = 0 … n − 1."""
    return np.array(
        [factorial(s) * factorial(count - s - 1) / factorial(count) for s in range(count)]
    )


def coalition_columns(
    metadata: dict, columns: Mapping[str, Sequence], reference: Mapping, masks: np.ndarray
) -> dict[str, np.ndarray]:
    """The (students × coalitions) rows, student by student, as columns for build_feeds."""
    batch = {}
    for index, feature in enumerate(features(metadata)):
        name = feature["name"]
        dtype = object if feature["kind"] == CATEGORICAL else np.float64
        values = np.asarray(columns[name], dtype=dtype).reshape(-1, 1)
        batch[name] = np.where(masks[:, index], values, np.asarray(reference[name], dtype)).ravel()
    return batch


def shapley_contributions(
    session: ort.InferenceSession,
    metadata: dict,
    columns: Mapping[str, Sequence],
    reference: Mapping,
) -> tuple[dict[str, np.ndarray], float]:
    """Each served feature's points for each student, and the baseline score.

    `columns` holds the students as build_feeds takes them; `reference` maps every served
    feature to the reference student's value (`metadata["reference"]["student"]`). Per
    student, the points of all features sum to score − baseline.
    """
    names = [feature["name"] for feature in features(metadata)]
    missing = [name for name in names if name not in reference]
    if missing:
        raise ValueError(f"the reference student has no value for {', '.join(missing)}")
    students = len(columns[names[0]]) if names else 0
    if students == 0:
        (baseline,) = predict(session, build_feeds(metadata, {n: [reference[n]] for n in names}))
        return {name: np.empty(0) for name in names}, float(baseline)
    masks = coalitions(len(names))
    batch = coalition_columns(metadata, columns, reference, masks)
    scores = predict(session, build_feeds(metadata, batch)).reshape(students, len(masks))
    weights = shapley_weights(len(names))
    points = {}
    for index, name in enumerate(names):
        without = np.flatnonzero(~masks[:, index])
        gains = scores[:, without | (1 << index)] - scores[:, without]
        points[name] = gains @ weights[masks[without].sum(axis=1)]
    return points, float(scores[0, 0])
