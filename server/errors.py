"""The client errors the request path raises, each with its HTTP status.

Without Falcon, so that server.score_file, which shares the parsers, loads no web
framework; server/error_handlers.py turns them into answers."""

from __future__ import annotations

import heapq
import traceback
from http import HTTPStatus
from typing import Annotated

import msgspec

MAX_REPORTED_ERRORS = 100


ROW_DESCRIPTION = (
    "where the problem is: for CSV the spreadsheet's row number (the header is row 1, "
    "so the first student is row 2); for JSON the student's position in the array, "
    "from 1 (a single object is 1); null for the body as a whole"
)
CSV_ROWS = "rows numbered as a spreadsheet numbers them, the header being row 1"
JSON_ROWS = "row: the student's position in the array, from 1"


class FieldError(msgspec.Struct, frozen=True):
    row: Annotated[int, msgspec.Meta(ge=1, description=ROW_DESCRIPTION)] | None
    field: str | None
    message: str


class ErrorAnswer(msgspec.Struct, omit_defaults=True):
    """Every error's body: what is wrong and how to fix it, with the bad fields if any."""

    error: Annotated[str, msgspec.Meta(description="what is wrong and how to fix it")]
    details: Annotated[list[FieldError], msgspec.Meta(max_length=MAX_REPORTED_ERRORS)] = []
    total_errors: Annotated[int, msgspec.Meta(ge=0)] = 0


class RequestRejected(Exception):
    """A request we will not score; `status` and the message tell the caller what to fix."""

    status = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str, details: list[FieldError] | None = None, total: int = 0):
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.total = total or len(self.details)


class MalformedBody(RequestRejected):
    status = HTTPStatus.BAD_REQUEST


class InvalidRecords(RequestRejected):
    status = HTTPStatus.UNPROCESSABLE_ENTITY


class InvalidOption(RequestRejected):
    """A query option (interval, explain) the served model cannot honour."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY


class TooLarge(RequestRejected):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnsupportedMediaType(RequestRejected):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class ModelUnavailable(RequestRejected):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class ErrorCollector:
    """Gathers every bad field of a request; reports the first MAX_REPORTED_ERRORS
    by row (a row's fields in the order they were found). `numbering` says how
    rows are counted, in the error's own words."""

    def __init__(self, numbering: str) -> None:
        self.found: list[FieldError] = []
        self._numbering = numbering

    def add(self, row: int | None, field: str | None, message: str) -> None:
        self.found.append(FieldError(row, field, message))

    @property
    def total(self) -> int:
        return len(self.found)

    def by_row(self) -> list[FieldError]:
        """Every problem found, sorted by row (stable: a row's fields keep their order)."""
        return sorted(self.found, key=_row_order)

    def raise_if_any(self) -> None:
        if self.found:
            details = heapq.nsmallest(MAX_REPORTED_ERRORS, self.found, key=_row_order)
            rows = len({d.row for d in details})
            raise InvalidRecords(
                f"{self.total} invalid field(s) in the request (first {len(details)} listed, "
                f"from {rows} row(s); {self._numbering}); nothing was scored: fix them and "
                "send the request again",
                details,
                self.total,
            )


def _row_order(problem: FieldError) -> int:
    return problem.row or 0


def error_body(message: str, details: list[FieldError] = (), total: int = 0) -> bytes:
    return msgspec.json.encode(ErrorAnswer(message, list(details), total))


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
