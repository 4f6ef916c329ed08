"""The synthetic sample: deterministic, well formed, and statistically like the real data."""

import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from train.columns import (
    CATEGORICAL_FEATURES,
    COLUMNS,
    FEATURES,
    NUMERIC_FEATURES,
    SCORE_MAX,
    SCORE_MIN,
    TARGET,
)
from train.synthetic import GROUPS, generate, main, write_csv

SCORES = [TARGET, *NUMERIC_FEATURES]

# The real data's facts, written out here rather than read from the module under test.
REAL_SHARES = {
    "gender": {"female": 51.8, "male": 48.2},
    "race_ethnicity": {
        "group A": 8.9,
        "group B": 19.0,
        "group C": 31.9,
        "group D": 26.2,
        "group E": 14.0,
    },
    "parental_level_of_education": {
        "some college": 22.6,
        "associate's degree": 22.2,
        "high school": 19.6,
        "some high school": 17.9,
        "bachelor's degree": 11.8,
        "master's degree": 5.9,
    },
    "lunch": {"standard": 64.5, "free/reduced": 35.5},
    "test_preparation_course": {"none": 64.2, "completed": 35.8},
}
REAL_MEANS = {"math_score": 66.1, "reading_score": 69.2, "writing_score": 68.1}
REAL_SDS = {"math_score": 15.2, "reading_score": 14.6, "writing_score": 15.2}
REAL_CORRELATIONS = [
    ("math_score", "reading_score", 0.82),
    ("math_score", "writing_score", 0.80),
    ("reading_score", "writing_score", 0.95),
]


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    return generate(rows=20_000, seed=7)


def test_same_seed_writes_identical_bytes(tmp_path):
    first = write_csv(tmp_path / "a.csv", rows=300, seed=5)
    second = write_csv(tmp_path / "b.csv", rows=300, seed=5)
    assert first.read_bytes() == second.read_bytes()


def test_different_seed_writes_different_bytes(tmp_path):
    first = write_csv(tmp_path / "a.csv", rows=300, seed=5)
    second = write_csv(tmp_path / "b.csv", rows=300, seed=6)
    assert first.read_bytes() != second.read_bytes()


def test_frame_has_exactly_the_columns_in_order():
    frame = generate(rows=50)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 50


def test_categoricals_are_strings_and_scores_are_integers():
    frame = generate(rows=50)
    assert all(pd.api.types.is_string_dtype(frame[name]) for name in CATEGORICAL_FEATURES)
    assert all(frame[name].dtype == "int64" for name in SCORES)


def test_scores_stay_within_bounds(large):
    assert large[SCORES].min().min() >= SCORE_MIN
    assert large[SCORES].max().max() <= SCORE_MAX


def test_csv_has_snake_case_header_and_integer_scores(tmp_path):
    lines = write_csv(tmp_path / "s.csv", rows=3).read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert all(cell.isdigit() for cell in lines[1].split(",")[-len(SCORES) :])


def test_command_line_writes_the_same_file_as_write_csv(tmp_path, capsys):
    out = tmp_path / "nested" / "cli.csv"
    main(["--rows", "40", "--seed", "3", "--out", str(out)])
    assert out.read_bytes() == write_csv(tmp_path / "direct.csv", rows=40, seed=3).read_bytes()
    assert str(out) in capsys.readouterr().out


def test_rejects_fewer_than_one_row():
    with pytest.raises(ValueError, match="at least 1"):
        generate(rows=0)


def test_categories_are_the_real_ones():
    assert tuple(GROUPS) == CATEGORICAL_FEATURES
    for name, shares in REAL_SHARES.items():
        assert set(GROUPS[name]) == set(shares)


@pytest.mark.parametrize(
    ("feature", "value", "percent"),
    [(name, value, pct) for name, shares in REAL_SHARES.items() for value, pct in shares.items()],
)
def test_category_share_matches_real_data(large, feature, value, percent):
    assert (large[feature] == value).mean() * 100 == pytest.approx(percent, abs=2)


def test_score_means_match_real_data(large):
    assert large[SCORES].mean().to_dict() == pytest.approx(REAL_MEANS, abs=0.5)


def test_score_spreads_match_real_data(large):
    assert large[SCORES].std().to_dict() == pytest.approx(REAL_SDS, abs=0.5)


def test_score_correlations_match_real_data(large):
    correlations = large[SCORES].corr()
    for first, second, expected in REAL_CORRELATIONS:
        assert correlations.loc[first, second] == pytest.approx(expected, abs=0.02)


@pytest.mark.parametrize(
    ("feature", "value", "score", "mean"),
    [
        ("gender", "female", "math_score", 63.6),
        ("gender", "male", "writing_score", 63.3),
        ("race_ethnicity", "group E", "math_score", 73.8),
        ("lunch", "free/reduced", "math_score", 58.9),
        ("test_preparation_course", "completed", "writing_score", 74.4),
        ("parental_level_of_education", "master's degree", "reading_score", 75.4),
    ],
)
def test_group_mean_matches_real_data(large, feature, value, score, mean):
    assert large.loc[large[feature] == value, score].mean() == pytest.approx(mean, abs=1.0)


def test_linear_model_fits_as_on_real_data():
    frame = generate()
    train, test = train_test_split(frame, test_size=0.2, random_state=42)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(), list(CATEGORICAL_FEATURES)), remainder="passthrough"
        ),
        LinearRegression(),
    )
    model.fit(train[list(FEATURES)], train[TARGET])
    predicted = model.predict(test[list(FEATURES)])
    assert 0.84 <= r2_score(test[TARGET], predicted) <= 0.92
    assert 3.8 <= mean_absolute_error(test[TARGET], predicted) <= 4.8


# Per 1,000 real students: perfect scores, and scores of 20 or less.
REAL_PERFECT_PER_1000 = {"math_score": 7, "reading_score": 17, "writing_score": 14}
REAL_AT_MOST_20_PER_1000 = {"math_score": 4, "reading_score": 2, "writing_score": 3}


@pytest.mark.parametrize("score", SCORES)
def test_perfect_scores_are_as_rare_as_in_real_data(large, score):
    per_1000 = (large[score] == SCORE_MAX).mean() * 1000
    assert per_1000 == pytest.approx(REAL_PERFECT_PER_1000[score], abs=3)


@pytest.mark.parametrize("score", SCORES)
def test_low_scores_are_as_common_as_in_real_data(large, score):
    per_1000 = (large[score] <= 20).mean() * 1000
    assert per_1000 == pytest.approx(REAL_AT_MOST_20_PER_1000[score], abs=2)
    assert large[score].min() <= 5  # the real math minimum is 0


def test_no_race_group_is_below_group_a_once_reading_and_writing_are_known(large):
    """As in the real data: with every other field known, B and C a little above A."""
    others = pd.get_dummies(large[list(CATEGORICAL_FEATURES)], drop_first=True, dtype=float)
    model = LinearRegression().fit(others.join(large[list(NUMERIC_FEATURES)]), large[TARGET])
    effect = dict(zip(model.feature_names_in_, model.coef_, strict=True))
    above_a = {g: effect[f"race_ethnicity_group {g}"] for g in "BCDE"}
    assert all(value > 0 for value in above_a.values()), above_a
    assert above_a["B"] < 2 and above_a["C"] < 2, above_a
