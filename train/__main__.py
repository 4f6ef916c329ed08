"""python -m train: fit every candidate, pick one by cross-validation, save the run.

A run folder (runs/<id>/) holds what `python -m export` needs and nothing that
ever reaches serving: the fitted pipeline (skops, which cannot run code when
loaded), the train/holdout split, the leaderboard and run.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
import uuid
from importlib.metadata import version
from pathlib import Path

import skops.io
from sklearn.model_selection import train_test_split

from train.categories import DEFAULT_MIN_CATEGORY_ROWS
from train.columns import TARGET
from train.conformal import calibrate, out_of_fold_predictions
from train.data import DataError, TrainingData, load_training_data
from train.exclusion import exclusion_cost, kept_features, parse_exclusions
from train.groups import group_errors
from train.pipeline import candidates
from train.run_files import (
    DEFAULT_MIN_R2,
    DEFAULT_RUNS_DIR,
    HOLDOUT_SPLIT_FILE,
    LEADERBOARD_MD,
    PIPELINE_FILE,
    RUN_FILE,
    TRAIN_SPLIT_FILE,
)
from train.select import CandidateResult, holdout_metrics, select_model, write_leaderboard
from train.synthetic import write_csv

DEFAULT_SEED = 42
DEFAULT_ROWS = 1000
HOLDOUT_SHARE = 0.2
TRAINING_LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy", "skops")


# Fewer rows than this cannot fill the cross-validation folds of every candidate's grid.
MIN_ROWS = 50


def _at_least(minimum: int):
    def parse(text: str) -> int:
        number = int(text)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {number}")
        return number

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m train", description=__doc__)
    parser.add_argument("--data", type=Path, help="training CSV (default: the synthetic sample)")
    parser.add_argument(
        "--rows", type=_at_least(1), default=DEFAULT_ROWS, help="synthetic sample size"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--folds", type=_at_least(2), default=5, help="cross-validation folds")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR)
    parser.add_argument(
        "--candidates", help="comma-separated candidate names (default: all)", default=""
    )
    parser.add_argument("--min-r2", type=float, default=DEFAULT_MIN_R2, help="quality floor")
    parser.add_argument(
        "--drop-incomplete",
        action="store_true",
        help="drop rows with a missing value instead of refusing the file",
    )
    parser.add_argument(
        "--min-category-rows",
        type=_at_least(1),
        default=DEFAULT_MIN_CATEGORY_ROWS,
        help="refuse a category value on fewer rows than this (default %(default)s)",
    )
    parser.add_argument(
        "--allow-rare", action="store_true", help="keep category values however few their rows"
    )
    parser.add_argument(
        "--exclude-features",
        default="",
        metavar="FIELDS",
        help="comma-separated categorical fields to train without, e.g. race_ethnicity,gender",
    )
    return parser.parse_args(argv)


def new_run_dir(runs_dir: Path) -> Path:
    folder = runs_dir / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    return folder


def load_data(args: argparse.Namespace, run_dir: Path) -> TrainingData:
    min_category_rows = 1 if args.allow_rare else args.min_category_rows
    if args.data is not None:
        return load_training_data(
            args.data, drop_incomplete=args.drop_incomplete, min_category_rows=min_category_rows
        )
    sample = write_csv(run_dir / "synthetic.csv", rows=args.rows, seed=args.seed)
    return dataclasses.replace(
        load_training_data(sample, min_category_rows=min_category_rows),
        source=f"synthetic sample (rows={args.rows}, seed={args.seed})",
    )


def chosen_candidates(names: str, seed: int) -> list:
    every = candidates(seed)
    if not names:
        return every
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {c.name for c in every}
    if not wanted:
        raise SystemExit(f"error: --candidates names no candidate; choose from {sorted(known)}")
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"error: unknown candidate(s) {unknown}; choose from {sorted(known)}")
    return [c for c in every if c.name in wanted]


def report_progress(result: CandidateResult) -> None:
    print(
        f"  {result.name:<24} CV R² {result.cv_r2_mean:.4f} ± {result.cv_r2_std:.4f}"
        f"   MAE {result.cv_mae_mean:.3f}   {result.seconds:6.1f} s",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pool = chosen_candidates(args.candidates, args.seed)
    try:
        excluded = parse_exclusions(args.exclude_features)
    except ValueError as exc:
        raise SystemExit(f"error: --exclude-features: {exc}") from None
    features = kept_features(excluded)
    run_dir = new_run_dir(args.runs_dir)
    try:
        data = load_data(args, run_dir)
        if data.rows < MIN_ROWS:
            raise DataError(
                f"{data.source}: has {data.rows} usable rows; training needs at least {MIN_ROWS}"
            )
    except DataError as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train, holdout = train_test_split(
        data.frame, test_size=HOLDOUT_SHARE, random_state=args.seed, shuffle=True
    )
    print(
        f"training on {len(train)} rows ({len(holdout)} held out) from {data.source}; "
        f"{len(pool)} candidates, {args.folds}-fold CV",
        flush=True,
    )
    started = time.perf_counter()
    results = select_model(
        train, pool, args.seed, args.folds, on_result=report_progress, features=features
    )
    best = results[0]
    metrics = {
        "cv_r2_mean": best.cv_r2_mean,
        "cv_r2_std": best.cv_r2_std,
        "cv_mae_mean": best.cv_mae_mean,
        **holdout_metrics(best.pipeline, holdout),
    }
    out_of_fold = out_of_fold_predictions(best.pipeline, train, args.seed, args.folds, features)
    intervals = calibrate(train[TARGET].to_numpy(), out_of_fold)

    cost = None
    if excluded:
        print(
            f"the same selection with every feature, to measure leaving out {', '.join(excluded)}:"
        )
        cost = exclusion_cost(
            best, train, holdout, pool, args.seed, args.folds, on_result=report_progress
        )
    write_leaderboard(results, run_dir)
    train.to_csv(run_dir / TRAIN_SPLIT_FILE, index=False)
    holdout.to_csv(run_dir / HOLDOUT_SPLIT_FILE, index=False)
    skops.io.dump(best.pipeline, run_dir / PIPELINE_FILE)
    run = {
        "seed": args.seed,
        "folds": args.folds,
        "target": TARGET,
        "training_data": {
            "source": data.source,
            "sha256": data.sha256,
            "rows": data.rows,
            "dropped_incomplete_rows": data.dropped_rows,
            "train_rows": len(train),
            "holdout_rows": len(holdout),
        },
        "estimator": {
            "name": best.name,
            "class": type(best.pipeline[-1]).__module__ + "." + type(best.pipeline[-1]).__name__,
            "params": best.params,
        },
        "metrics": metrics,
        "intervals": intervals,
        "min_r2": args.min_r2,
        "leaderboard": [r.row() for r in results],
        "group_errors": group_errors(best.pipeline, holdout, features, train, out_of_fold),
        "excluded_features": list(excluded),
        "exclusion_cost": cost,
        "training_seconds": round(time.perf_counter() - started, 2),
        "libraries": {name: version(name) for name in TRAINING_LIBRARIES},
    }
    (run_dir / RUN_FILE).write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")

    print((run_dir / LEADERBOARD_MD).read_text(encoding="utf-8"))
    print(
        f"chosen: {best.name} {best.params}; holdout R² {metrics['holdout_r2']:.4f}, "
        f"MAE {metrics['holdout_mae']:.3f}; training took {run['training_seconds']} s"
    )
    print(f"run saved in {run_dir}")
    if metrics["holdout_r2"] < args.min_r2:
        print(
            f"error: holdout R² {metrics['holdout_r2']:.4f} is below the quality floor "
            f"{args.min_r2}; this run will not be published",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
