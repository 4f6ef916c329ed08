"""Prometheus metrics, correct across Gunicorn workers.

In multiprocess mode (PROMETHEUS_MULTIPROC_DIR set by the Gunicorn config
before workers import this) each worker writes its samples to files in that
folder and GET /metrics adds them up; the `child_exit` hook retires a dead
worker's files. Without it (in-process tests) the default registry is used.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from functools import cache

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
API_KEY_REQUESTS = Counter(
    "studypredict_api_key_requests", "Requests let in by an API key, by the key's name", ["key"]
)
UNAUTHORIZED = Counter(
    "studypredict_unauthorized_requests", "Requests refused with a 401, by reason", ["reason"]
)


@cache
def request_series(endpoint: str, method: str, status: int) -> tuple:
    """The request counter's and the latency histogram's children for these labels,
    looked up once: `.labels()` costs more than the increment it precedes."""
    return REQUESTS.labels(endpoint, method, status), LATENCY.labels(endpoint)


def workers_registry(folder: str) -> CollectorRegistry:
    """A registry of every worker's samples, read from their files in `folder` now."""
    registry = CollectorRegistry()
    WorkerFiles(registry, folder)
    return registry


class WorkerFiles(multiprocess.MultiProcessCollector):
    """The workers' samples, leaving out any file still at 0 bytes: a worker creates its
    file before sizing it, and one read in between (or left so by a worker killed
    then) fails the whole scrape with a struct.error (prometheus/client_python#1199)."""

    def __init__(self, registry: CollectorRegistry, folder: str) -> None:
        super().__init__(registry, folder)
        self._folder = folder

    def collect(self):
        return self.merge([f for f in glob.glob(os.path.join(self._folder, "*.db")) if _sized(f)])


def _sized(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:  # a dead worker's live gauges, retired meanwhile
        return False


class Metrics:
    """GET /metrics in Prometheus text format."""

    def __init__(
        self, multiprocess_dir: str | None, extra: Sequence[CollectorRegistry] = ()
    ) -> None:
        self._folder = multiprocess_dir
        self._extra = extra  # metrics computed at scrape (the drift distances)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        registry = REGISTRY if self._folder is None else workers_registry(self._folder)
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(registry) + b"".join(map(generate_latest, self._extra))
