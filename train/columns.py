"""The training data's columns: the one place the offline side names them.

The server never imports this: it learns the same facts from each model's metadata,
which export writes from these constants and the fitted pipeline.
"""

CATEGORICAL_FEATURES = (
    "gender",
    "race_ethnicity",
    "parental_level_of_education",
    "lunch",
    "test_preparation_course",
)
NUMERIC_FEATURES = ("reading_score", "writing_score")
FEATURES = CATEGORICAL_FEATURES + NUMERIC_FEATURES
TARGET = "math_score"
COLUMNS = FEATURES + (TARGET,)

# Every score is a percentage.
SCORE_MIN = 0
SCORE_MAX = 100
