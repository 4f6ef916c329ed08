"""Per-request telemetry: the request id, the Prometheus samples and one JSON access line.

One middleware rather than one per concern: Falcon calls each middleware's
hooks on every request, and a single-student request is short enough for that
to show in a profile.
"""

from __future__ import annotations

import os
import re
import time

import falcon
import msgspec

from server.metrics import STUDENTS, VALIDATION_FAILURES, request_series
from server.request_context import StudyRequest

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept only if it is short and printable, so it cannot forge log lines.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


class AccessLog:
    """One JSON object per line on standard error, each written with one os.write.

    Not through `logging`: its record, handler lock, formatter and flush are a
    visible share of a single-student request. A line shorter than PIPE_BUF is
    written to a pipe whole, so the workers' lines never interleave.
    """

    def __init__(self, fd: int = 2) -> None:
        self._fd = fd
        self._encode = msgspec.json.Encoder().encode

    def write(self, entry: dict) -> None:
        try:
            os.write(self._fd, self._encode(entry) + b"\n")
        except OSError:
            pass  # a full or closed log must never fail the request it describes


class RequestTelemetry:
    """Sets the request's id and start time; counts, times and logs its response."""

    def __init__(self, access_log: AccessLog) -> None:
        self._access_log = access_log

    def process_request(self, req: StudyRequest, resp: falcon.Response) -> None:
        context = req.context
        context.started = time.perf_counter()
        given = req.get_header(REQUEST_ID_HEADER)
        context.request_id = given if given and _SAFE_ID.fullmatch(given) else os.urandom(16).hex()

    def process_response(self, req: StudyRequest, resp, resource, req_succeeded: bool) -> None:
        context = req.context
        resp.set_header(REQUEST_ID_HEADER, context.request_id)
        seconds = time.perf_counter() - context.started
        endpoint = req.uri_template or "unmatched"
        status = resp.status_code
        requests, latency = request_series(endpoint, req.method, status)
        requests.inc()
        latency.observe(seconds)
        if status == 200 and context.rows:
            STUDENTS.inc(context.rows)
        for field in context.failed_fields:
            VALIDATION_FAILURES.labels(field or "(body)").inc()
        self._access_log.write(
            {
                "method": req.method,
                "path": req.path,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "rows": context.rows,
                "request_id": context.request_id,
                "model_version": resp.get_header("X-Model-Version"),
                "api_key": context.api_key,
            }
        )
