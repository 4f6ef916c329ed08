"""Prometheus metrics, correct across Gunicorn workers.

In multiprocess mode (PROMETHEUS_MULTIPROC_DIR set by the Gunicorn config
before workers import this) each worker writes its samples to files in that
folder and GET /metrics adds them up; the `child_exit` hook retires a dead
worker's files. Without it (in-process tests) the default registry is used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import falcon
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "studypredict_requests", "HTTP requests by endpoint, method and status",
    ["endpoint", "method", "status"],
)  # fmt: skip
LATENCY = Histogram(
    "studypredict_request_duration_seconds", "Time from request to response, by endpoint",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
STUDENTS = Counter("studypredict_students_scored", "Students given a predicted math score")
VALIDATION_FAILURES = Counter(
    "studypredict_validation_failures", "Invalid fields in refused requests, by field", ["field"]
)
# An info metric as a gauge: prometheus_client's Info does not work across processes.
MODEL_INFO = Gauge(
    "studypredict_model_info", "The served model version (value 1)", ["version"],
    multiprocess_mode="livemax",
)  # fmt: skip


class Metrics:
    """GET /metrics in Prometheus text format."""

    def __init__(self, extra_registries: Sequence[CollectorRegistry] = ()) -> None:
        self._extra = extra_registries  # metrics computed at scrape (the drift distances)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = REGISTRY
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(registry) + b"".join(map(generate_latest, self._extra))
