"""A deterministic synthetic stand-in for the public "Students Performance in Exams" data.

Tests and first runs train on it, so nothing is ever downloaded. It reproduces the real
1,000-student sample's category shares, score means, spreads and correlations and its
group differences, so a model fitted to it behaves as one fitted to the real data.

    python -m train.synthetic --rows 1000 --seed 42 --out data/students.csv
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from train.columns import (
    CATEGORICAL_FEATURES,
    COLUMNS,
    NUMERIC_FEATURES,
    SCORE_MAX,
    SCORE_MIN,
    TARGET,
)

# The order of every score triple below.
SCORES = (TARGET,) + NUMERIC_FEATURES  # math, reading, writing

# Per category, from the real data: share of students, then mean math, reading, writing score.
GROUPS: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "gender": {
        "female": (0.518, 63.6, 72.6, 72.5),
        "male": (0.482, 68.7, 65.5, 63.3),
    },
    "race_ethnicity": {
        "group A": (0.089, 61.6, 64.7, 62.7),
        "group B": (0.190, 63.5, 67.4, 65.6),
        "group C": (0.319, 64.5, 69.1, 67.8),
        "group D": (0.262, 67.4, 70.0, 70.1),
        "group E": (0.140, 73.8, 73.0, 71.4),
    },
    "parental_level_of_education": {
        "some college": (0.226, 67.1, 69.5, 68.8),
        "associate's degree": (0.222, 67.9, 70.9, 69.9),
        "high school": (0.196, 62.1, 64.7, 62.4),
        "some high school": (0.179, 63.5, 66.9, 64.9),
        "bachelor's degree": (0.118, 69.4, 73.0, 73.4),
        "master's degree": (0.059, 69.7, 75.4, 75.7),
    },
    "lunch": {
        "standard": (0.645, 70.0, 71.7, 70.8),
        "free/reduced": (0.355, 58.9, 64.7, 63.0),
    },
    "test_preparation_course": {
        "none": (0.642, 64.1, 66.5, 64.5),
        "completed": (0.358, 69.7, 73.9, 74.4),
    },
}

# Scores are drawn as normal "latent" scores, then clipped to 0-100 and rounded, which lowers
# the means, spreads and correlations slightly. These latent targets are the real ones
# (means 66.1 / 69.2 / 68.1, sds 15.2 / 14.6 / 15.2, correlations 0.82 / 0.80 / 0.95) after
# fixed-point calibration: sample 2-4 million rows, add (real - sampled) to each target, repeat
# until the clipped integers match to +-0.02.
LATENT_MEANS = (66.16, 69.29, 68.19)
LATENT_SDS = (15.37, 14.84, 15.45)
LATENT_CORRELATIONS = (
    (1.0, 0.822, 0.802),
    (0.822, 1.0, 0.951),
    (0.802, 0.951, 1.0),
)


def _deviations(groups: dict[str, tuple[float, ...]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One feature's categories, their shares and their score offsets from the overall mean.

    Offsets are centred on the share-weighted mean, so adding them keeps the overall means.
    """
    values = list(groups)
    table = np.array([groups[value] for value in values])
    shares = table[:, 0] / table[:, 0].sum()
    offsets = table[:, 1:] - shares @ table[:, 1:]
    return values, shares, offsets


def generate(rows: int = 1000, seed: int = 42) -> pd.DataFrame:
    """Sample `rows` students: exactly COLUMNS, categoricals as str, scores as int64."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    means = np.tile(LATENT_MEANS, (rows, 1))
    between = np.zeros((len(SCORES), len(SCORES)))
    for name in CATEGORICAL_FEATURES:
        values, shares, offsets = _deviations(GROUPS[name])
        picks = rng.choice(len(values), size=rows, p=shares)
        data[name] = np.array(values, dtype=object)[picks]
        means += offsets[picks]
        # Categories are drawn independently, so their score covariances simply add up.
        between += offsets.T @ (offsets * shares[:, None])
    # The per-student noise carries what the groups do not, so the totals hit the targets.
    total = np.outer(LATENT_SDS, LATENT_SDS) * np.array(LATENT_CORRELATIONS)
    noise = rng.standard_normal((rows, len(SCORES))) @ np.linalg.cholesky(total - between).T
    scores = np.rint(np.clip(means + noise, SCORE_MIN, SCORE_MAX)).astype(np.int64)
    for index, name in enumerate(SCORES):
        data[name] = scores[:, index]
    return pd.DataFrame(data, columns=list(COLUMNS))


def write_csv(path: str | Path, rows: int = 1000, seed: int = 42) -> Path:
    """Write a sample as CSV with the snake_case header; the same seed gives the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fixed line ending keeps the bytes identical on every platform.
    generate(rows, seed).to_csv(path, index=False, lineterminator="\n")
    return path


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m train.synthetic", description="Write a synthetic training CSV."
    )
    parser.add_argument("--rows", type=_positive, default=1000, help="students (default 1000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    args = parser.parse_args(argv)
    print(write_csv(args.out, args.rows, args.seed))


if __name__ == "__main__":
    main()
