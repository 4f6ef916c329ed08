"""GET /drift, and the drift report a prediction request may ask for (`?report=drift`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import falcon
import msgspec

from server.drift import TOO_FEW, DriftReport, drift_report
from server.drift_metrics import CohortDrift
from server.model import ServedModel

CSV_HEADER = "X-Drift-Report"
NO_REFERENCE = "carries no drift reference (it was published before drift reports)"
COUNTING_OFF = (
    "live drift counting is off on this server (DRIFT_COUNTS=false), so there are no counts "
    "to report: set DRIFT_COUNTS=true to count every scored student, or ask for one cohort's "
    "report with POST /predictdata?report=drift"
)
_encode = msgspec.json.Encoder().encode


class RecentDrift(DriftReport, kw_only=True):
    """The drift report of the students scored in the recent window."""

    window: str


class DriftAnswer(msgspec.Struct):
    """GET /drift: the students scored since the server started, and lately."""

    model_version: str
    since_start: DriftReport
    recent: RecentDrift


class Drift:
    """GET /drift: are the students scored lately like the training data?"""

    def __init__(self, model: ServedModel, counts: CohortDrift | None) -> None:
        self._model = model
        self._counts = counts

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._counts is None:
            raise falcon.HTTPNotFound(description=no_reference_reason(self._model.version))
        if not self._counts.live:
            raise falcon.HTTPNotFound(description=COUNTING_OFF)
        since_start, recent = self._counts.totals()
        reference = self._counts.reference
        window = f"the last {self._counts.window_minutes} minutes"
        lately = msgspec.structs.asdict(drift_report(reference, recent))
        resp.content_type = falcon.MEDIA_JSON
        resp.data = _encode(
            DriftAnswer(
                self._model.version,
                drift_report(reference, since_start),
                RecentDrift(**lately, window=window),
            )
        )


def record_drift(
    counts: CohortDrift | None, columns: Mapping[str, Sequence], size: int, wanted: bool
) -> DriftReport | None:
    """Count a scored batch's students; its own drift report if `wanted`, else None.

    A request can only want one when the version has a reference (server/options.py)."""
    if counts is None:
        return None
    counts.record(columns, size)
    return drift_report(counts.reference, counts.cohort(columns, size)) if wanted else None


def csv_header(report: DriftReport) -> tuple[str, str]:
    """The report as one header of a CSV answer: JSON, ASCII only (HTTP headers are
    Latin-1 at best), with the flagged fields' plain words for the page to show and
    how many fields had students enough to test."""
    summaries = {name: report.fields[name].summary for name in report.flagged}
    tested = sum(field.verdict != TOO_FEW for field in report.fields.values())
    value = {
        "students": report.students,
        "flagged": report.flagged,
        "summaries": summaries,
        "tested": tested,
    }
    return CSV_HEADER, _ascii_json(value)


def _ascii_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def no_reference_reason(version: str) -> str:
    return f"model version {version} {NO_REFERENCE}: publish it again to record one"
