"""What each answer of POST /predictdata must be, for the release benchmark.

A check takes an answer's (status, content type, body) and returns None when it is
right, else what is wrong: Locust then counts the request as failed, even a 200.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable

from server.rules import ID_FIELD

MEDIA_JSON = "application/json"
MEDIA_CSV = "text/csv"

Check = Callable[[int, str, bytes], "str | None"]


def prediction(version: str, target: str, ident: str) -> Check:
    """One student's JSON answer: this model's version, the id sent, a score."""

    def check(status: int, content_type: str, body: bytes) -> str | None:
        answer, problem = _json_ok(status, content_type, body, version)
        if problem:
            return problem
        if answer.get(ID_FIELD) != ident:
            return f"id {answer.get(ID_FIELD)!r} echoed for id {ident!r}"
        return _score_problem(answer.get(target))

    return check


def json_cohort(version: str, target: str, ids: list[str]) -> Check:
    """A JSON cohort's answer: one prediction per student, in the order sent."""

    def check(status: int, content_type: str, body: bytes) -> str | None:
        answer, problem = _json_ok(status, content_type, body, version)
        if problem:
            return problem
        predictions = answer.get("predictions") or []
        if answer.get("count") != len(ids) or len(predictions) != len(ids):
            count = answer.get("count")
            return f"{len(predictions)} predictions (count {count}) for {len(ids)} students"
        scores = (_score_problem(p.get(target)) for p in predictions)
        return _order_problem(ids, [p.get(ID_FIELD) for p in predictions]) or _first(scores)

    return check


def csv_cohort(target: str, ids: list[str]) -> Check:
    """A CSV upload's answer: a header, then one line per student in the order sent."""

    def check(status: int, content_type: str, body: bytes) -> str | None:
        if status != 200 or not content_type.startswith(MEDIA_CSV):
            return _status_problem(status, content_type, body, f"200 {MEDIA_CSV}")
        header, *rows = csv.reader(io.StringIO(body.decode()))
        if header != [ID_FIELD, target]:
            return f"CSV header {header}, not {[ID_FIELD, target]}"
        if len(rows) != len(ids):
            return f"{len(rows)} predictions for {len(ids)} students"
        scores = (_number_problem(row[1]) for row in rows)
        return _order_problem(ids, [row[0] for row in rows]) or _first(scores)

    return check


def rejection(status: int, row: int | None = None, field: str | None = None) -> Check:
    """A refusal: `status` with the JSON error body, naming the bad row and field if given."""

    def check(got: int, content_type: str, body: bytes) -> str | None:
        if got != status or not content_type.startswith(MEDIA_JSON):
            return _status_problem(got, content_type, body, f"{status} {MEDIA_JSON}")
        answer = json.loads(body)
        if not isinstance(answer.get("error"), str):
            return "error answer without an 'error' message"
        named = [(d.get("row"), d.get("field")) for d in answer.get("details", [])]
        if field is not None and (row, field) not in named:
            return f"error details do not name row {row}, field {field!r}"
        return None

    return check


def _json_ok(status: int, content_type: str, body: bytes, version: str) -> tuple[dict, str | None]:
    if status != 200 or not content_type.startswith(MEDIA_JSON):
        return {}, _status_problem(status, content_type, body, f"200 {MEDIA_JSON}")
    answer = json.loads(body)
    if not isinstance(answer, dict):
        return {}, f"expected a JSON object, got {type(answer).__name__}"
    if answer.get("model_version") != version:
        return {}, f"model_version {answer.get('model_version')!r}, not {version!r}"
    return answer, None


def _status_problem(status: int, content_type: str, body: bytes, expected: str) -> str:
    return f"got {status} {content_type or '(no type)'}, expected {expected}: {body[:200]!r}"


def _order_problem(sent: list[str], got: list) -> str | None:
    for position, (want, have) in enumerate(zip(sent, got, strict=True), 1):
        if want != have:
            return f"prediction {position} has id {have!r}, expected {want!r} (wrong order)"
    return None


def _score_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"score {value!r} is not a finite number"
    return None


def _number_problem(text: str) -> str | None:
    try:
        return _score_problem(float(text))
    except ValueError:
        return f"score {text!r} is not a number"


def _first(problems) -> str | None:
    return next((p for p in problems if p), None)
