"""Per-request telemetry: one JSON log line and the Prometheus samples."""

from __future__ import annotations

import logging
import time

import falcon
import msgspec

from server.metrics import LATENCY, REQUESTS, STUDENTS, VALIDATION_FAILURES

access_logger = logging.getLogger("studypredict.access")
_encode = msgspec.json.Encoder().encode


class Telemetry:
    def __init__(self) -> None:
        # Labelled children, bound once: .labels() on every request costs more
        # than the increment itself.
        self._requests: dict[tuple, object] = {}
        self._latency: dict[str, object] = {}

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        req.context.rows = 0
        req.context.failed_fields = ()

    def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        seconds = time.perf_counter() - req.context.started
        endpoint = req.uri_template or "unmatched"
        status = resp.status_code
        key = (endpoint, req.method, status)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = REQUESTS.labels(*key)
        counter.inc()
        histogram = self._latency.get(endpoint)
        if histogram is None:
            histogram = self._latency[endpoint] = LATENCY.labels(endpoint)
        histogram.observe(seconds)
        if status == 200 and req.context.rows:
            STUDENTS.inc(req.context.rows)
        for field in req.context.failed_fields:
            VALIDATION_FAILURES.labels(field or "(body)").inc()
        access_logger.info(
            _encode(
                {
                    "method": req.method,
                    "path": req.path,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "rows": req.context.rows,
                    "request_id": req.context.request_id,
                    "model_version": resp.get_header("X-Model-Version"),
                }
            ).decode()
        )
