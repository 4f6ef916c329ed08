"""Certifying the run's intervals on the holdout, as parity certifies the graph."""

from __future__ import annotations

import numpy as np

from train.conformal import TOLERANCE_STANDARD_ERRORS, coverage, coverage_tolerance


class CoverageError(Exception):
    """The holdout's coverage falls short of an interval's level beyond chance."""


def certify_intervals(
    run_intervals: dict | None, scores: np.ndarray, actual: np.ndarray, target: dict
) -> dict:
    """The metadata's `intervals`: the run's half-widths with the holdout coverage they reach.

    `scores` are the served graph's answers for the holdout students; raises CoverageError,
    naming the level and the figures, when any level's coverage is below it by more than
    the binomial tolerance for the holdout's size.
    """
    if not run_intervals:
        raise CoverageError("the run has no calibrated intervals: train it again with this code")
    rows = len(actual)
    if rows == 0:
        raise CoverageError("the holdout is empty, so the intervals cannot be certified")
    half_widths = run_intervals["half_widths"]
    calibration = run_intervals.get("calibration_rows")
    measured, tolerance = {}, {}
    for level, half_width in half_widths.items():
        measured[level] = coverage(actual, scores, half_width, target["minimum"], target["maximum"])
        tolerance[level] = coverage_tolerance(int(level), rows, calibration)
        # `not >=` so that a NaN coverage fails too.
        if not measured[level] >= int(level) / 100 - tolerance[level]:
            raise CoverageError(
                f"interval coverage failed: the {level}% interval (±{half_width:.3f} points) "
                f"covers {measured[level]:.1%} of the {rows} holdout students, below {level}% "
                f"by more than the tolerance of {tolerance[level]:.1%} "
                f"({TOLERANCE_STANDARD_ERRORS} standard errors for that many students and "
                f"{calibration or 'an unknown number of'} calibration residuals); "
                "not published"
            )
    return {
        "method": run_intervals["method"],
        "half_widths": dict(half_widths),
        "calibration_rows": calibration,
        "holdout_coverage": measured,
        "holdout_rows": rows,
        "tolerance": tolerance,
    }
