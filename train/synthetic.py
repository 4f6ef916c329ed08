"""A deterministic synthetic stand-in for the public "Students Performance in Exams" data.

Tests and first runs train on it, so nothing is ever downloaded. It reproduces the real
1,000-student sample's category shares, score means, spreads and correlations, its group
differences, its score tails (low scores, few perfect ones) and its race groups' math
differences once reading and writing are known, so a model fitted to it behaves as one
fitted to the real data.

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

# Male share of each race group in the real data (53 of group A's 89 students, ...). Group A
# has more boys, who score higher in math and lower in reading and writing; drawn without this,
# groups B and C came out below group A in math once reading and writing are known, while in
# the real data no group is below A.
MALE_SHARE_BY_RACE = {
    "group A": 53 / 89,
    "group B": 86 / 190,
    "group C": 139 / 319,
    "group D": 133 / 262,
    "group E": 71 / 140,
}

# Scores are drawn as "latent" scores, group offsets plus correlated noise, then clipped to
# 0-100 and rounded, which lowers the means, spreads and correlations slightly. The noise is
# skewed left, as the real scores are: a long tail of low scores (real minimums 0 math, 17
# reading, 10 writing) and few perfect ones (7, 17 and 14 per 1,000). SKEWS are its shape
# parameters per score, set so that a large sample has those shares of perfect scores. The
# latent targets are the real ones (means 66.1 / 69.2 / 68.1, sds 15.2 / 14.6 / 15.2,
# correlations 0.82 / 0.80 / 0.95) after fixed-point calibration: sample a few million rows,
# add (real - sampled) to each target, repeat until the clipped integers match to +-0.02.
LATENT_MEANS = (66.11, 69.24, 68.12)
LATENT_SDS = (15.22, 14.73, 15.32)
LATENT_CORRELATIONS = (
    (1.0, 0.818, 0.803),
    (0.818, 1.0, 0.955),
    (0.803, 0.955, 1.0),
)
SKEWS = (0.18, 0.1, 0.15)


def _deviations(groups: dict[str, tuple[float, ...]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One feature's categories, their shares and their score offsets from the overall mean.

    Offsets are centred on the share-weighted mean, so adding them keeps the overall means.
    """
    values = list(groups)
    table = np.array([groups[value] for value in values])
    shares = table[:, 0] / table[:, 0].sum()
    offsets = table[:, 1:] - shares @ table[:, 1:]
    return values, shares, offsets


def _gender_race_cells() -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """Every (gender, race) pair, its share, and its score offset.

    The two are drawn together, so one feature's offsets are solved for jointly with the
    other's: each group's mean over the pairs it appears in is its real mean.
    """
    genders, _, gender_means = _deviations(GROUPS["gender"])
    races, race_shares, race_means = _deviations(GROUPS["race_ethnicity"])
    male = np.array([MALE_SHARE_BY_RACE[race] for race in races])
    joint = np.stack([race_shares * (1 - male), race_shares * male])  # [gender, race]
    pairs = [(g, r) for g in range(len(genders)) for r in range(len(races))]
    # Unknowns: one offset per gender, then one per race; one equation per group's mean.
    design = np.zeros((len(genders) + len(races), len(genders) + len(races)))
    for g, r in pairs:
        design[g, g] += joint[g, r] / joint[g].sum()
        design[g, len(genders) + r] += joint[g, r] / joint[g].sum()
        design[len(genders) + r, g] += joint[g, r] / joint[:, r].sum()
        design[len(genders) + r, len(genders) + r] += joint[g, r] / joint[:, r].sum()
    solved = np.linalg.lstsq(design, np.vstack([gender_means, race_means]), rcond=None)[0]
    cell_offsets = np.array([solved[g] + solved[len(genders) + r] for g, r in pairs])
    cell_shares = np.array([joint[g, r] for g, r in pairs])
    cell_offsets -= cell_shares @ cell_offsets
    return [(genders[g], races[r]) for g, r in pairs], cell_shares, cell_offsets


def _skewed(z: np.ndarray, skew: float) -> np.ndarray:
    """Standard normal draws made left-skewed with mean 0 and variance 1 (a reflected,
    shifted log-normal): the upper tail is bounded, the lower one long."""
    mean = (1 - np.exp(skew**2 / 2)) / skew
    sd = np.sqrt(np.exp(skew**2) * (np.exp(skew**2) - 1)) / skew
    return ((1 - np.exp(-skew * z)) / skew - mean) / sd


def _normal_correlation(target: np.ndarray) -> np.ndarray:
    """The correlation of normal draws that `_skewed` turns into `target`."""
    a = np.array(SKEWS)
    spread = np.sqrt(np.outer(np.exp(a**2) - 1, np.exp(a**2) - 1))
    return np.log1p(target * spread) / np.outer(a, a)


def generate(rows: int = 1000, seed: int = 42) -> pd.DataFrame:
    """Sample `rows` students: exactly COLUMNS, categoricals as str, scores as int64."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    pairs, pair_shares, pair_offsets = _gender_race_cells()
    picks = rng.choice(len(pairs), size=rows, p=pair_shares)
    data["gender"] = np.array([g for g, _ in pairs], dtype=object)[picks]
    data["race_ethnicity"] = np.array([r for _, r in pairs], dtype=object)[picks]
    means = np.tile(LATENT_MEANS, (rows, 1)) + pair_offsets[picks]
    between = pair_offsets.T @ (pair_offsets * pair_shares[:, None])
    for name in CATEGORICAL_FEATURES[2:]:
        values, shares, offsets = _deviations(GROUPS[name])
        picks = rng.choice(len(values), size=rows, p=shares)
        data[name] = np.array(values, dtype=object)[picks]
        means += offsets[picks]
        # Drawn independently of the others, so their score covariances simply add up.
        between += offsets.T @ (offsets * shares[:, None])
    # The per-student noise carries what the groups do not, so the totals hit the targets.
    total = np.outer(LATENT_SDS, LATENT_SDS) * np.array(LATENT_CORRELATIONS)
    within = total - between
    sds = np.sqrt(np.diag(within))
    correlation = _normal_correlation(within / np.outer(sds, sds))
    z = rng.standard_normal((rows, len(SCORES))) @ np.linalg.cholesky(correlation).T
    noise = np.column_stack([_skewed(z[:, i], SKEWS[i]) for i in range(len(SCORES))]) * sds
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
