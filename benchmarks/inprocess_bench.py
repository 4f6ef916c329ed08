"""In-process: the scikit-learn pipeline, run as the system this replaces ran it (a pandas
DataFrame per call), against onnxruntime on the same ridge model exported to ONNX, both
from the same parsed request; no HTTP, one process.
Writes table.md, results.json and speedup.png (log-log) to benchmarks/reports/inprocess-*/.
"""

from __future__ import annotations

import json
import math
import timeit
from collections.abc import Callable, Sequence
from functools import partial
from importlib.metadata import version

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.linear_model import Ridge

from benchmarks import verdict
from export.convert import to_onnx_bytes
from export.metadata import input_schema
from model_store.onnx_io import build_feeds, open_session, predict
from server.config import DEFAULT_ORT_THREADS
from train.columns import FEATURES, TARGET
from train.pipeline import build_pipeline
from train.synthetic import generate

BATCH_SIZES = (1, 10, 100, 1_000, 10_000, 100_000)
MIN_TIME_S = 1.0  # per engine and batch size
ROUNDS = 5
TRAIN_ROWS, TRAIN_SEED, REQUEST_SEED = 1_000, 42, 7
COLUMNS = ("batch size", "scikit-learn ms/call", "onnxruntime ms/call", "scikit-learn rows/s")
COLUMNS += ("onnxruntime rows/s", "speedup", "max abs diff")


def time_call(call: Callable[[], object], min_time: float) -> float:
    """Milliseconds of one call: the best of ROUNDS rounds lasting `min_time` in all (on a
    shared machine other processes only ever add time)."""
    call()  # warm-up: first-call allocations and caches are not the steady state
    timer = timeit.Timer(call)
    number = max(1, round(min_time / ROUNDS / max(timer.timeit(1), 1e-9)))
    return min(timer.repeat(ROUNDS, number)) / number * 1000


def run(batch_sizes: Sequence[int], min_time: float) -> list[dict]:
    """Per batch size, each engine's ms per call and their predictions' largest difference."""
    training = generate(TRAIN_ROWS, TRAIN_SEED)
    pipeline = build_pipeline(Ridge()).fit(training[list(FEATURES)], training[TARGET])
    session = open_session(to_onnx_bytes(pipeline), intra_op_threads=DEFAULT_ORT_THREADS)
    metadata = {"schema": input_schema(pipeline)}
    requests = generate(max(batch_sizes), REQUEST_SEED)
    rows = []
    for size in batch_sizes:
        columns = {name: requests[name].iloc[:size].tolist() for name in FEATURES}
        with_sklearn = partial(lambda c: pipeline.predict(pd.DataFrame(c)), columns)
        with_onnx = partial(lambda c: predict(session, build_feeds(metadata, c)), columns)
        diff = float(np.max(np.abs(with_sklearn() - with_onnx())))
        slow, fast = (time_call(f, min_time) for f in (with_sklearn, with_onnx))
        rows.append(dict(batch_size=size, sklearn_ms=slow, onnx_ms=fast, max_abs_diff=diff))
    return rows


def table(rows: Sequence[dict]) -> str:
    cells = []
    for r in rows:
        size, sklearn_ms, onnx_ms = r["batch_size"], r["sklearn_ms"], r["onnx_ms"]
        times = [f"{size:,}", f"{sklearn_ms:,.3f}", f"{onnx_ms:,.3f}"]
        rates = [f"{size / sklearn_ms * 1e3:,.0f}", f"{size / onnx_ms * 1e3:,.0f}"]
        cells.append([*times, *rates, f"{sklearn_ms / onnx_ms:,.1f}×", f"{r['max_abs_diff']:.1e}"])
    return verdict.table(COLUMNS, cells)


def chart(rows: Sequence[dict], path) -> None:
    """Latency per call against batch size, log-log, the speed-up written between the lines."""
    axes = Figure(figsize=(8, 4.5), layout="constrained").subplots()
    sizes, slow, fast = ([r[key] for r in rows] for key in ("batch_size", "sklearn_ms", "onnx_ms"))
    axes.plot(sizes, slow, "o-", label="scikit-learn (DataFrame in)")
    axes.plot(sizes, fast, "s-", label="onnxruntime (exported model)")
    for size, a, b in zip(sizes, slow, fast, strict=True):  # each speed-up between the lines
        axes.annotate(f"{a / b:,.0f}×", (size, math.sqrt(a * b)), ha="center", fontsize=8)
    engines = f"scikit-learn {version('scikit-learn')} against onnxruntime {version('onnxruntime')}"
    axes.set(xscale="log", yscale="log", xlabel="students per call", ylabel="ms per call")
    axes.set_title(f"Ridge pipeline: {engines} ({DEFAULT_ORT_THREADS} thread)")
    axes.xaxis.set_major_formatter("{x:,.0f}")  # 1, 10, 100 rather than powers of ten
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    axes.figure.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None):
    parser = verdict.arguments("benchmarks.inprocess_bench", __doc__)
    sizes = ",".join(map(str, BATCH_SIZES))
    parser.add_argument("--batch-sizes", default=sizes, help="comma-separated students per call")
    seconds = "seconds per engine and batch size"
    parser.add_argument("--min-time", type=float, default=MIN_TIME_S, help=seconds)
    args = parser.parse_args(argv)
    rows = run([int(s) for s in args.batch_sizes.split(",")], args.min_time)
    out, text = verdict.report_dir(args.reports_dir, "inprocess"), table(rows)
    (out / "table.md").write_text(text)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    chart(rows, out / "speedup.png")
    print(f"{text}\nwritten: {out / 'table.md'}, {out / 'speedup.png'}")
    return out


if __name__ == "__main__":
    main()
