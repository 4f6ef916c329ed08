"""What one request's handlers hand to its telemetry, as declared attributes.

Falcon builds one `RequestContext` per request (`StudyRequest.context_type`):
the telemetry middleware sets the request id and start time, the access check
the key's name, the prediction resource the rows it scored, the error handler
the fields it refused; the middleware reads them all when the response goes out.
"""

from __future__ import annotations

import falcon


class RequestContext:
    __slots__ = ("api_key", "failed_fields", "request_id", "rows", "started")

    def __init__(self) -> None:
        self.started: float = 0.0  # time.perf_counter() when the request arrived
        self.request_id: str = "-"  # the caller's X-Request-ID if safe, else a fresh one
        self.rows: int = 0  # students scored
        self.failed_fields: list[str | None] = []  # refused fields; None: the whole body
        self.api_key: str | None = None  # the name of the key that let it in (server/access.py)


class StudyRequest(falcon.Request):
    context_type = RequestContext
    context: RequestContext
