"""The one checker of POST /predictdata answers, for the release gate and the soak:
`problem` is None for a right answer, else what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from server.rules import ID_FIELD

MEDIA_JSON = "application/json"
MEDIA_CSV = "text/csv"
# The server rounds to hundredths: its score is within half a hundredth of the model's.
ROUNDING = 0.005 + 1e-9


@dataclass(frozen=True)
class Expected:
    """What a request must be answered with."""

    target: str  # the score's name in the answer
    # Versions that may answer, each with its unrounded scores for the students sent,
    # when known (None: any finite score).
    versions: Mapping[str, Sequence[float] | None]
    count: int = 1  # students sent
    cohort: bool = False  # sent as a list or a CSV: answered with one entry per student
    csv: bool = False
    ids: Sequence | None = None  # ids sent, to come back in the order sent
    status: int = 200  # a refusal's status (then only its JSON error body is checked)
    row: int | None = None  # the row and field a refusal must name, when given
    field: str | None = None


def refusal(status: int, row: int | None = None, field: str | None = None) -> Expected:
    return Expected("", {}, count=0, status=status, row=row, field=field)


def problem(want: Expected, status: int, content_type: str | None, body: bytes | None,
            version_header: str | None = None) -> str | None:  # fmt: skip
    """What is wrong with an answer, or None. An unreadable answer is wrong too."""
    content_type, body = content_type or "", body or b""
    try:
        return _problem(want, status, content_type, body, version_header)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        return f"unreadable answer ({exc!r}): {body[:200]!r}"


def _problem(want: Expected, status: int, content_type: str, body: bytes, header: str | None):
    media = MEDIA_CSV if want.csv and want.status == 200 else MEDIA_JSON
    if status != want.status or not content_type.startswith(media):
        return (f"got {status} {content_type or '(no type)'}, expected {want.status} {media}: "
                f"{body[:200]!r}")  # fmt: skip
    if want.status != 200:
        answer = json.loads(body)
        if not isinstance(answer.get("error"), str):
            return "error answer without an 'error' message"
        named = [(d.get("row"), d.get("field")) for d in answer.get("details", [])]
        if want.field is not None and (want.row, want.field) not in named:
            return f"error details do not name row {want.row}, field {want.field!r}"
        return None
    version, entries = _csv_entries(want, body, header) if want.csv else _json_entries(want, body)
    if header is not None and header != version:
        return f"labelled {header} in its header, {version} in its body"
    if version not in want.versions:
        return f"model_version {version!r}, not {' or '.join(map(repr, want.versions))}"
    if len(entries) != want.count:
        return f"{len(entries)} predictions for {want.count} students"
    if want.ids is not None:
        for position, (sent, entry) in enumerate(zip(want.ids, entries, strict=True), 1):
            if entry.get(ID_FIELD) != sent:
                got, order = entry.get(ID_FIELD), " (wrong order)" if want.cohort else ""
                return f"prediction {position} has id {got!r}, expected {sent!r}{order}"
    scores = [entry.get(want.target) for entry in entries]
    bad = [s for s in scores if isinstance(s, bool) or not isinstance(s, int | float)
           or not math.isfinite(s)]  # fmt: skip
    if bad:
        return f"score {bad[0]!r} is not a finite number"
    expected = want.versions[version]
    pairs = zip(scores, expected or scores, strict=True)
    if expected is not None and any(abs(a - b) > ROUNDING for a, b in pairs):
        return f"scores differ from those of {version}, which it names"
    return None


def _json_entries(want: Expected, body: bytes) -> tuple[str, list[dict]]:
    answer = json.loads(body)
    if not isinstance(answer, dict):
        raise ValueError(f"expected a JSON object, got {type(answer).__name__}")
    if not want.cohort:
        return answer.get("model_version"), [answer]
    predictions = answer["predictions"]
    if answer.get("count") != len(predictions):
        raise ValueError(f"count {answer.get('count')} for {len(predictions)} predictions")
    return answer.get("model_version"), predictions


def _csv_entries(want: Expected, body: bytes, header: str | None) -> tuple[str, list[dict]]:
    columns, *rows = csv.reader(io.StringIO(body.decode()))
    names = [ID_FIELD, want.target] if want.ids is not None else [want.target]
    if columns != names:
        raise ValueError(f"CSV header {columns}, not {names}")
    entries = [{**dict(zip(names, row, strict=True)), want.target: float(row[-1])} for row in rows]
    # A CSV answer names its version only in its header; without one, any listed will do.
    return header if header is not None else next(iter(want.versions)), entries
