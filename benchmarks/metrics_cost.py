"""python -m benchmarks.metrics_cost: what the Prometheus metrics cost a single-student request.

In-process and on one core, so the shared machine's noise mostly cancels: the
metric updates RequestTelemetry makes per request (in multiprocess mode, as under
Gunicorn) against a whole single-student request through the WSGI app.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

# Multiprocess mode, as the Gunicorn config sets it, before prometheus_client loads.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="metrics-cost-"))

import falcon.testing  # noqa: E402

from model_store.store import ModelStore  # noqa: E402
from server.app import create_app  # noqa: E402
from server.config import Settings  # noqa: E402
from server.metrics import LATENCY, REQUESTS, STUDENTS  # noqa: E402
from server.model import load_verified_model  # noqa: E402


def per_call(fn, calls: int, rounds: int = 5) -> float:
    """Best of `rounds`, in microseconds per call."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1e6


def main() -> None:
    model = load_verified_model(ModelStore(), None, threads=1)
    client = falcon.testing.TestClient(create_app(model, Settings()))
    body = json.dumps(model.metadata["parity_sample"]["records"][0])
    headers = {"Content-Type": "application/json"}
    counter = REQUESTS.labels("/predictdata", "POST", 200)
    histogram = LATENCY.labels("/predictdata")

    def metrics() -> None:
        counter.inc()
        histogram.observe(0.0004)
        STUDENTS.inc(1)

    request = per_call(
        lambda: client.simulate_post("/predictdata", body=body, headers=headers), 2_000
    )
    updates = per_call(metrics, 100_000)
    print("| per single-student request | µs | share |")
    print("|---|---:|---:|")
    print(f"| whole request through the app (in-process) | {request:.1f} | 100 % |")
    print(
        f"| metric updates (multiprocess mode) | {updates:.2f} | {100 * updates / request:.1f} % |"
    )


if __name__ == "__main__":
    main()
