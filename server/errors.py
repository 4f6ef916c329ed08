"""The client errors the request path raises, and their mapping to HTTP in one place."""

from __future__ import annotations

import logging
import traceback
from typing import Annotated

import falcon
import msgspec

from server.request_context import StudyRequest

logger = logging.getLogger(__name__)

MAX_REPORTED_ERRORS = 100


class FieldError(msgspec.Struct, frozen=True):
    row: Annotated[int, msgspec.Meta(ge=1)] | None  # the student's position; None: the body
    field: str | None
    message: str


class ErrorAnswer(msgspec.Struct, omit_defaults=True):
    """Every error's body: what is wrong and how to fix it, with the bad fields if any."""

    error: Annotated[str, msgspec.Meta(description="what is wrong and how to fix it")]
    details: Annotated[list[FieldError], msgspec.Meta(max_length=MAX_REPORTED_ERRORS)] = []
    total_errors: Annotated[int, msgspec.Meta(ge=0)] = 0


class RequestRejected(Exception):
    """A request we will not score; `status` and the message tell the caller what to fix."""

    status = falcon.HTTP_400

    def __init__(self, message: str, details: list[FieldError] | None = None, total: int = 0):
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.total = total or len(self.details)


class MalformedBody(RequestRejected):
    status = falcon.HTTP_400


class InvalidRecords(RequestRejected):
    status = falcon.HTTP_422


class InvalidOption(RequestRejected):
    """A query option (interval, explain) the served model cannot honour."""

    status = falcon.HTTP_422


class TooLarge(RequestRejected):
    status = falcon.HTTP_413


class UnsupportedMediaType(RequestRejected):
    status = falcon.HTTP_415


class ModelUnavailable(RequestRejected):
    status = falcon.HTTP_503


class ErrorCollector:
    """Gathers every bad field of a request; keeps the first MAX_REPORTED_ERRORS."""

    def __init__(self) -> None:
        self.details: list[FieldError] = []
        self.total = 0

    def add(self, row: int | None, field: str | None, message: str) -> None:
        self.total += 1
        if len(self.details) < MAX_REPORTED_ERRORS:
            self.details.append(FieldError(row, field, message))

    def raise_if_any(self) -> None:
        if self.total:
            rows = len({d.row for d in self.details})
            raise InvalidRecords(
                f"{self.total} invalid field(s) in the request (first {len(self.details)} listed, "
                f"from {rows} row(s)); nothing was scored: fix them and send the request again",
                self.details,
                self.total,
            )


def error_body(message: str, details: list[FieldError] = (), total: int = 0) -> bytes:
    return msgspec.json.encode(ErrorAnswer(message, list(details), total))


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


def traceback_without_messages(exc: BaseException) -> str:
    """Where `exc`, and the exceptions that led to it, were raised: the types and
    frames but not the messages, which may quote the students' values."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_list(traceback.extract_tb(current.__traceback__)))
        kind = type(current)
        parts.append(f"{frames}{kind.__module__}.{kind.__qualname__} (message withheld)\n")
        current = current.__cause__ or current.__context__
    return "Traceback (most recent call last):\n" + "which led to:\n".join(reversed(parts))
