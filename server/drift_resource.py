"""GET /drift, and the drift report a prediction request may ask for (`?report=drift`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import falcon
import msgspec

from server.drift import drift_report
from server.drift_metrics import DriftCounts
from server.errors import MalformedBody, ModelUnavailable
from server.model import ServedModel

REPORT_PARAM = "report"
DRIFT_REPORT = "drift"
CSV_HEADER = "X-Drift-Report"
NO_REFERENCE = "carries no drift reference (it was published before drift reports)"
_encode = msgspec.json.Encoder().encode


class Drift:
    """GET /drift: are the students scored lately like the training data?"""

    def __init__(self, model: ServedModel | None, counts: DriftCounts | None) -> None:
        self._model = model
        self._counts = counts

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._model is None:
            raise ModelUnavailable("no verified model is loaded; see the server log")
        if self._counts is None:
            raise falcon.HTTPNotFound(description=no_reference_reason(self._model.version))
        since_start, recent = self._counts.totals()
        reference = self._counts.reference
        resp.content_type = falcon.MEDIA_JSON
        resp.data = _encode(
            {
                "model_version": self._model.version,
                "since_start": drift_report(reference, since_start),
                "recent": {
                    "window": f"the last {self._counts.window_minutes} minutes",
                    **drift_report(reference, recent),
                },
            }
        )


def wants_drift_report(req: falcon.Request) -> bool:
    """True for `?report=drift`; any other report is the caller's mistake."""
    value = req.get_param(REPORT_PARAM)
    if value is None:
        return False
    if value != DRIFT_REPORT:
        raise MalformedBody(
            f"{REPORT_PARAM}={value[:50]!r} is not a report this server makes: "
            f"ask for {REPORT_PARAM}={DRIFT_REPORT}, or leave it out"
        )
    return True


def record_drift(
    counts: DriftCounts | None, columns: Mapping[str, Sequence], size: int, wanted: bool
) -> dict | None:
    """Count a scored batch's students; its own drift report if `wanted`, else None."""
    if counts is None:
        unavailable = {"available": False, "reason": f"this model version {NO_REFERENCE}"}
        return unavailable if wanted else None
    counts.record(columns, size)
    return drift_report(counts.reference, counts.cohort(columns, size)) if wanted else None


def csv_header(report: dict) -> tuple[str, str]:
    """The report in one header line for a CSV answer: the flagged fields, the students."""
    if not report.get("available", True):
        return CSV_HEADER, "unavailable"
    flagged = ",".join(report["flagged"]) or "none"
    return CSV_HEADER, f"flagged={flagged}; students={report['students']}"


def no_reference_reason(version: str) -> str:
    return f"model version {version} {NO_REFERENCE}: publish it again to record one"
