"""Per-student contributions: exact Shapley values of each feature against a reference.

A feature's contribution is its marginal effect on the score averaged over every
coalition of the other features with the Shapley weights, absent features taking
the reference student's values; so they sum to score - baseline, the baseline
being the reference student's score. With n features that is 2^n rows per
student, all scored in one onnxruntime call: any graph the export can publish is
explained through the graph alone. Needs onnxruntime and numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import factorial

import numpy as np
import onnxruntime as ort

from model_store.contract import ModelContract


def coalitions(count: int) -> np.ndarray:
    """Every subset of `count` features as a (2^count, count) boolean matrix: row m
    holds feature j when bit j of m is set, so row 0 is the reference, the last x."""
    return (np.arange(2**count)[:, None] >> np.arange(count)) & 1 == 1


def shapley_weights(count: int) -> np.ndarray:
    """The weight s!(n - s - 1)!/n! of a coalition of s other features, s = 0 .. n-1."""
    return np.array(
        [factorial(s) * factorial(count - s - 1) / factorial(count) for s in range(count)]
    )


def shapley_contributions(
    session: ort.InferenceSession,
    contract_or_metadata: ModelContract | dict,
    columns: Mapping[str, Sequence],
    reference: Mapping,
) -> tuple[dict[str, np.ndarray], float]:
    """Each feature's points for each student, and the baseline score.

    `columns` holds the students as `ModelContract.encode` takes them; `reference`
    maps every feature to the reference student's value. Per student, the points
    of all features sum to score - baseline (to float32 precision).
    """
    contract = (
        contract_or_metadata
        if isinstance(contract_or_metadata, ModelContract)
        else ModelContract.from_metadata(contract_or_metadata)
    )
    names = contract.feature_names
    missing = [name for name in names if name not in reference]
    if missing:
        raise ValueError(f"the reference student has no value for {', '.join(missing)}")
    masks = coalitions(len(names))
    students = len(columns[names[0]])
    present = contract.encode(columns)  # students x features
    absent = contract.encode({name: [reference[name]] for name in names})[0]
    # Per student, every coalition's row: its own values where present, the reference's else.
    rows = np.where(masks, present[:, None, :], absent).reshape(-1, len(names))
    if students == 0:
        rows = absent[None, :]
    (output,) = session.run(None, {contract.input.name: rows})
    scores = output.reshape(-1).astype(np.float64)
    baseline = float(scores[0])
    if students == 0:
        return {name: np.empty(0) for name in names}, baseline
    scores = scores.reshape(students, len(masks))
    weights = shapley_weights(len(names))
    sizes = masks.sum(axis=1)
    points = {}
    for index, name in enumerate(names):
        without = np.flatnonzero(~masks[:, index])  # coalitions lacking this feature
        gains = scores[:, without | (1 << index)] - scores[:, without]
        points[name] = gains @ weights[sizes[without]]
    return points, baseline
