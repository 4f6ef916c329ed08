"""python -m export [RUN_DIR]: convert a training run to ONNX, certify parity, publish.

Nothing reaches the model store unless the run clears the quality floor and
onnxruntime agrees with scikit-learn on every training and holdout row.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd
import skops.io

from export.card import render_card
from export.convert import to_onnx_bytes
from export.coverage import CoverageError, certify_intervals
from export.drift_reference import drift_reference
from export.metadata import build_metadata, input_schema
from export.parity import ParityError, certify, fitted_features, measure_parity
from export.reference import reference
from model_store.onnx_io import build_feeds, open_session, predict
from model_store.store import DEFAULT_ROOT, ModelStore, StoreError
from train.columns import CATEGORICAL_FEATURES, TARGET
from train.run_files import (
    DEFAULT_MIN_R2,
    DEFAULT_RUNS_DIR,
    HOLDOUT_SPLIT_FILE,
    PIPELINE_FILE,
    RUN_FILE,
    TRAIN_SPLIT_FILE,
)

# skops refuses to load any type it does not know to be safe; these are the
# scikit-learn internals our candidates need, and nothing else.
TRUSTED_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss._loss.CyHalfSquaredError",
    }
)


# What the metadata and the model card need that runs made before them lack.
RUN_KEYS_FOR_THE_CARD = ("group_errors", "excluded_features", "exclusion_cost")


class ExportError(Exception):
    pass


def latest_run(runs_dir: Path) -> Path:
    runs = sorted(p for p in runs_dir.glob("*") if (p / RUN_FILE).is_file())
    if not runs:
        raise ExportError(f"no complete training run in {runs_dir}/: run `make train` first")
    return runs[-1]


def load_pipeline(path: Path):
    untrusted = set(skops.io.get_untrusted_types(file=path))
    unexpected = untrusted - TRUSTED_TYPES
    if unexpected:
        raise ExportError(f"{path} contains types we do not trust: {sorted(unexpected)}")
    return skops.io.load(path, trusted=sorted(untrusted))


def read_split(path: Path) -> pd.DataFrame:
    return pd.read_csv(
        path, dtype={name: str for name in CATEGORICAL_FEATURES}, keep_default_na=False
    )


def export_run(run_dir: Path, store: ModelStore, min_r2: float, promote: bool = True) -> str:
    run = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    missing = [key for key in RUN_KEYS_FOR_THE_CARD if key not in run]
    if missing:
        raise ExportError(
            f"{run_dir}: was trained by an older `python -m train` (no {', '.join(missing)} in "
            f"{RUN_FILE}); train again"
        )
    holdout_r2 = run["metrics"]["holdout_r2"]
    # The floor training was given still holds: a run train refused is never published.
    floor = max(min_r2, run.get("min_r2", min_r2))
    if holdout_r2 < floor:
        raise ExportError(
            f"{run_dir}: holdout R² {holdout_r2:.4f} is below the quality floor {floor}; "
            "not published"
        )
    pipeline = load_pipeline(run_dir / PIPELINE_FILE)
    train = read_split(run_dir / TRAIN_SPLIT_FILE)
    holdout = read_split(run_dir / HOLDOUT_SPLIT_FILE)
    # The parity run feeds the graph through the schema, exactly as the server will.
    schema_only = {"schema": input_schema(pipeline)}
    target = schema_only["schema"]["target"]
    onnx_bytes = to_onnx_bytes(pipeline, (target["minimum"], target["maximum"]))
    report = measure_parity(pipeline, onnx_bytes, schema_only, pd.concat([holdout, train]))
    certify(report)
    session = open_session(onnx_bytes)
    features = fitted_features(pipeline)
    served = predict(session, build_feeds(schema_only, {n: holdout[n].tolist() for n in features}))
    intervals = certify_intervals(run.get("intervals"), served, holdout[TARGET].to_numpy(), target)
    metadata = build_metadata(run, pipeline, holdout, parity=report, onnx_bytes=onnx_bytes)
    metadata["intervals"] = intervals
    metadata["reference"] = reference(metadata, train, session)
    metadata["drift_reference"] = drift_reference(metadata, train)
    return store.publish(
        onnx_bytes,
        metadata,
        promote=promote,
        # The card plots the scores as served: the ONNX graph's, clipped to the target's range.
        card=lambda published: render_card(published, holdout[TARGET], served),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__)
    parser.add_argument("run_dir", nargs="?", type=Path, help="default: the newest run in runs/")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR)
    parser.add_argument(
        "--store", type=Path, default=Path(os.environ.get("MODEL_STORE_DIR", DEFAULT_ROOT))
    )
    parser.add_argument("--min-r2", type=float, default=DEFAULT_MIN_R2, help="quality floor")
    parser.add_argument(
        "--no-promote", action="store_true", help="publish without making it the current version"
    )
    args = parser.parse_args(argv)
    try:
        run_dir = args.run_dir or latest_run(args.runs_dir)
        version = export_run(run_dir, ModelStore(args.store), args.min_r2, not args.no_promote)
    except (ExportError, ParityError, CoverageError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    metadata = ModelStore(args.store).metadata(version)
    print(
        f"published {version} from {run_dir} "
        f"(parity {metadata['parity']['max_abs_diff']:.2g} "
        f"over {metadata['parity']['rows_checked']} rows)"
        + ("" if args.no_promote else "; it is now the current version")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
