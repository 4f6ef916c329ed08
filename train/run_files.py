"""The training run folder (runs/<id>/): what `train` writes and `export` reads."""

from pathlib import Path

DEFAULT_RUNS_DIR = Path("runs")
PIPELINE_FILE = "pipeline.skops"  # skops: loading it cannot execute code, unlike pickle
RUN_FILE = "run.json"  # written last: its presence marks a complete run
TRAIN_SPLIT_FILE = "train.csv"
HOLDOUT_SPLIT_FILE = "holdout.csv"
LEADERBOARD_CSV = "leaderboard.csv"
LEADERBOARD_MD = "leaderboard.md"
# Below this holdout R² nothing is published.
DEFAULT_MIN_R2 = 0.6
