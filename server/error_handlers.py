"""Errors as answers: ours (RequestRejected) and Falcon's own in the same JSON
shape, and anything unexpected as a 500 that quotes no student."""

from __future__ import annotations

import logging

import falcon

from server.errors import RequestRejected, error_body, traceback_without_messages
from server.request_context import StudyRequest

logger = logging.getLogger(__name__)


def handle_rejected(req: StudyRequest, resp, exc: RequestRejected, params) -> None:
    req.context.failed_fields = [d.field for d in exc.details]
    resp.status = exc.status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = error_body(exc.message, exc.details, exc.total)


def serialize_http_error(req, resp, exc: falcon.HTTPError) -> None:
    """Falcon's own errors (404, 405, …) in the same JSON shape as ours."""
    message = exc.title if not exc.description else f"{exc.title}: {exc.description}"
    allowed = (exc.headers or {}).get("Allow")
    if allowed:
        message += f"; allowed: {allowed}"
    resp.content_type = falcon.MEDIA_JSON
    resp.data = error_body(message)


def handle_unexpected(req: StudyRequest, resp, exc: Exception, params) -> None:
    """Our bug, not the caller's: log it with the request id, answer a generic 500."""
    request_id = req.context.request_id
    logger.error(
        "unhandled error, request_id=%s %s %s\n%s",
        request_id, req.method, req.path, traceback_without_messages(exc),
    )  # fmt: skip
    resp.status = falcon.HTTP_500
    resp.content_type = falcon.MEDIA_JSON
    resp.data = error_body(f"internal error; quote request id {request_id} when reporting it")
