"""The server's performance in one command: `python -m benchmarks.server_bench` (make bench).

Every server is the Procfile's web command under the real Gunicorn config, on
a free loopback port, driven by wrk (-t2 -c8) and stopped at the end. Each
figure is printed beside a floor measured in the same run (HTTP floor: the
same config serving a constant; HTTP + onnxruntime floor: that plus the served
model's run on inputs built at start-up; compute floor: the request's work
in-process on one core), so other load on the machine moves the ratio far less
than the figure. Rounds of all cells are interleaved and the best round of each cell
(highest requests/s, with that round's latencies) is reported: noise on a
shared machine only ever slows a round down.

The table goes to stdout; table.md and report.json (with every round's raw wrk
output) to benchmarks/reports/server-<timestamp>/.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import pickle
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from sklearn.linear_model import Ridge

from benchmarks.procfile_server import REPO, SERVE_VENV
from benchmarks.server_bench import compute, footprint
from benchmarks.server_bench.bodies import CSV_STUDENTS, make_bodies
from benchmarks.server_bench.cells import (
    SWEEP_THREADS,
    THREADS_ENV,
    cold_starts_and_memory,
    load_cells,
)
from benchmarks.server_bench.report import markdown, write_report
from benchmarks.server_bench.rows import Measurements, build_rows, notes
from benchmarks.server_bench.wrk import wrk_path
from model_store.store import ModelStore
from server.config import DEFAULT_ORT_THREADS, load_settings
from train.columns import FEATURES, TARGET
from train.pipeline import build_pipeline
from train.synthetic import generate

logger = logging.getLogger(__name__)

REPORTS = REPO / "benchmarks" / "reports"
RSS_PREDICTIONS = 1_000_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.server_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per cell, best kept")
    parser.add_argument(
        "--threads-sweep", action="store_true",
        help=f"also run the single and bulk cells with {THREADS_ENV} set to each of "
        f"{SWEEP_THREADS} (the default is {DEFAULT_ORT_THREADS})",
    )  # fmt: skip
    parser.add_argument("--csv-rows", type=int, default=CSV_STUDENTS, help="students in the CSV")
    parser.add_argument(
        "--rss-predictions", type=int, default=RSS_PREDICTIONS,
        help="predictions served before reading the workers' memory",
    )  # fmt: skip
    parser.add_argument("--serve-venv", type=Path, default=SERVE_VENV)
    parser.add_argument("--report-dir", type=Path, help="default: benchmarks/reports/server-<ts>")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0:
        parser.error("--rounds must be at least 1 and --duration positive")
    return args


def train_reference_pipeline(folder: Path) -> Path:
    """The kind of pipeline the seed system pickled: Ridge on the synthetic sample."""
    data = generate(1000, 42)
    pipeline = build_pipeline(Ridge()).fit(data[list(FEATURES)], data[TARGET])
    path = folder / "reference_pipeline.pkl"
    path.write_bytes(pickle.dumps(pipeline))
    return path


def check_tools() -> None:
    wrk_path()
    if importlib.util.find_spec("flask") is None:
        sys.exit(f"Flask is not installed in {sys.prefix} (the reference server needs it): "
                 "install requirements-dev.txt")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="[bench %(asctime)s] %(message)s"
    )
    check_tools()
    started = datetime.now(UTC)
    report_dir = args.report_dir or REPORTS / f"server-{started:%Y%m%dT%H%M%SZ}"
    store = ModelStore(load_settings().store_dir)
    load_before = os.getloadavg()
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="studypredict-bench-") as tmp:
        folder = Path(tmp)
        logger.info("bodies and the reference pipeline")
        bodies = make_bodies(store.load().metadata, folder / "bodies", args.csv_rows)
        pipeline = train_reference_pipeline(folder)
        logger.info("compute floor (in-process, one core)")
        computed = {
            name: compute.measure(store, body, args.duration / 5) for name, body in bodies.items()
        }
        logger.info("cold starts, then worker memory")
        cold = cold_starts_and_memory(args, bodies, folder)
        logger.info("wrk cells")
        loaded = load_cells(args, bodies, pipeline, folder)
    logger.info("serving venv size")
    venv = footprint.venv_size(args.serve_venv)
    measurements = Measurements(
        bodies, loaded["runs"], computed, cold, loaded["floor_memory"], venv
    )
    rows = build_rows(measurements)
    load_average = {"before": load_before, "after": os.getloadavg()}
    table = markdown(rows, notes(measurements, args.rounds, load_average))
    print(table)
    details = {
        "started": started.isoformat(),
        "seconds": round(time.perf_counter() - clock, 1),
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "cpus": os.cpu_count(),
        "load_average": load_average,
        "wrk_rounds": {name: [asdict(r) for r in runs] for name, runs in loaded["runs"].items()},
        "compute": {name: asdict(run) for name, run in computed.items()},
        "cold_start": cold,
        "floor_memory": loaded["floor_memory"],
        "venv": asdict(venv),
    }
    path = write_report(report_dir, table, rows, details)
    logger.info("report: %s", path)
    return 0
