"""One sentence, in plain words, on how a cohort differs from the training data in a field."""

from __future__ import annotations

import numpy as np

from server.drift_reference import FieldReference
from server.drift_stats import psi_terms

# How a category reads in a sentence; other fields read "students with <field> <value>".
_PHRASES = {
    "gender": "{value} students",
    "race_ethnicity": "students in {value}",
    "parental_level_of_education": "students whose parents' education is {value}",
    "lunch": "students on {value} lunch",
    "test_preparation_course": "students whose test preparation course is {value}",
}
_TIMES = {2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}
_FRACTIONS = {2: "half", 3: "a third", 4: "a quarter", 5: "a fifth"}


def summarise(field: FieldReference, cohort: np.ndarray) -> str:
    """One sentence on how this cohort's counts differ from the training data in `field`."""
    shares = cohort / cohort.sum()
    if field.categories is not None:
        return _summarise_categories(field, shares)
    return _summarise_scores(field, shares)


def _summarise_categories(field: FieldReference, shares: np.ndarray) -> str:
    cell = int(np.argmax(psi_terms(field.shares, shares)))  # the value that moved most
    value, trained, seen = field.categories[cell], field.shares[cell], shares[cell]
    template = _PHRASES.get(
        field.name, "students with " + field.name.replace("_", " ") + " {value}"
    )
    who = template.format(value=f"\u201c{value}\u201d" if field.name not in _PHRASES else value)
    figures = f"({seen:.0%} against {trained:.0%})"
    if trained == 0:
        return f"this cohort has {who}, whom the training data did not have {figures}"
    ratio = seen / trained
    if ratio == 0:
        return f"this cohort has no {who}, unlike the training data {figures}"
    if ratio >= 1.75:
        times = round(ratio)
        words = _TIMES.get(times, f"{times} times")
        return f"this cohort has {words} as many {who} as the training data {figures}"
    if ratio >= 1:
        return f"this cohort has {ratio - 1:.0%} more {who} than the training data {figures}"
    if ratio <= 0.55 and round(1 / ratio) in _FRACTIONS:
        words = _FRACTIONS[round(1 / ratio)]
        return f"this cohort has about {words} as many {who} as the training data {figures}"
    return f"this cohort has {1 - ratio:.0%} fewer {who} than the training data {figures}"


def _summarise_scores(field: FieldReference, shares: np.ndarray) -> str:
    what = field.name.replace("_score", " scores").replace("_", " ")
    trained = _quartiles(field, field.shares)
    seen = _quartiles(field, shares)
    shift = seen[1] - trained[1]
    if abs(shift) >= 1:
        direction = "lower" if shift < 0 else "higher"
        return (
            f"{what} are about {abs(shift):.0f} points {direction} than in the training data "
            f"(median about {seen[1]:.0f} against {trained[1]:.0f})"
        )
    spread, trained_spread = seen[2] - seen[0], trained[2] - trained[0]
    if trained_spread > 0 and abs(spread / trained_spread - 1) >= 0.2:
        how = "more" if spread > trained_spread else "less"
        return (
            f"{what} are {how} spread out than in the training data (the middle half spans "
            f"about {spread:.0f} points against {trained_spread:.0f})"
        )
    return f"{what} are distributed differently from the training data"


def _quartiles(field: FieldReference, shares: np.ndarray) -> np.ndarray:
    """Quartiles interpolated within the bins, the outer bins ending at the schema's bounds."""
    bounds = np.concatenate(([field.minimum], field.edges, [field.maximum]))
    cumulative = np.concatenate(([0.0], np.cumsum(shares)))
    cumulative /= cumulative[-1]
    return np.interp([0.25, 0.5, 0.75], cumulative, bounds)
