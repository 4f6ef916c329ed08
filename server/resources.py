"""The HTTP resources: prediction, health, readiness, the served model's metadata and card."""

from __future__ import annotations

import falcon
import msgspec

from server.contract import Status
from server.csv_input import CsvParser
from server.csv_output import csv_answer, csv_response, echo_answer, workbook_answer
from server.drift_metrics import CohortDrift
from server.drift_resource import csv_header, record_drift
from server.errors import InvalidOption, ModelUnavailable, TooLarge, UnsupportedMediaType
from server.json_input import JsonParser
from server.model import ServedModel
from server.request_context import StudyRequest
from server.xlsx import MEDIA_XLSX, first_sheet_as_csv

XLSX_EXPANSION = 10  # a workbook part may hold this many times the body's limit

MEDIA_CSV = "text/csv"
UNAVAILABLE_MESSAGE = "no verified model is loaded; see the server log"
_encode = msgspec.json.Encoder().encode
CARD_PATH = "/model/card"
CARD_CONTENT_TYPE = "text/html; charset=utf-8"
# The card is one self-contained file: inline styles and PNGs as data: URLs, no
# scripts, so it may load nothing else and run nothing at all.
CARD_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
CARD_HEADERS = {
    "Content-Security-Policy": CARD_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # the current version's card: revalidate after a promote
}


class Predictions:
    """POST /predictdata: one student or a cohort, as JSON or CSV."""

    def __init__(
        self,
        model: ServedModel,
        max_body_bytes: int,
        max_rows: int,
        drift: CohortDrift | None = None,  # live counts (DriftCounts), or only the reference
    ) -> None:
        self._model = model
        self._drift = drift
        self._max_body_bytes = max_body_bytes
        self._parsers = {
            falcon.MEDIA_JSON: JsonParser(model.contract, max_rows),
            MEDIA_CSV: CsvParser(model.contract, max_rows),
        }
        self._parsers[MEDIA_XLSX] = self._parsers[MEDIA_CSV]  # the first sheet, as CSV
        self._options = model.contract.options

    def on_post(self, req: StudyRequest, resp: falcon.Response) -> None:
        media_type = (req.content_type or "").split(";", 1)[0].strip().lower()
        parser = self._parsers.get(media_type)
        if parser is None:
            raise UnsupportedMediaType(
                f"Content-Type {req.content_type or '(none)'!r} is not supported; "
                "send application/json (a student object or an array), text/csv or an "
                f".xlsx workbook ({MEDIA_XLSX})"
            )
        encoding = (req.get_header("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise UnsupportedMediaType(
                f"Content-Encoding {encoding!r} is not supported; send the body uncompressed"
            )
        # Options are opt-in: a request without a query string takes the plain path.
        options = self._options.from_query_string(req.query_string) if req.query_string else None
        echo = options is not None and options.echo is not None
        workbook = self._answers_workbook(req, media_type)
        echo = echo or workbook or media_type == MEDIA_XLSX  # a workbook's rows come back
        if echo and media_type == falcon.MEDIA_JSON:
            raise InvalidOption(
                "echo=all applies to text/csv requests only; a JSON answer echoes each id"
            )
        body = self._read_body(req)
        if media_type == MEDIA_XLSX:
            body = first_sheet_as_csv(body, XLSX_EXPANSION * self._max_body_bytes)
        if media_type != falcon.MEDIA_JSON:
            table = parser.read(body, keep_lines=echo)
            batch = table.batch
            resp.set_header("X-Input-Encoding", table.encoding)
        else:
            batch = parser.parse(body)
        req.context.rows = batch.size
        columns = self._drift.as_arrays(batch.columns) if self._drift else batch.columns
        scored = self._model.predict(columns, options)
        wants_drift = options is not None and options.report is not None
        drift = record_drift(self._drift, columns, batch.size, wants_drift)
        resp.set_header("X-Model-Version", self._model.version)
        if drift is not None and media_type != falcon.MEDIA_JSON:
            resp.set_header(*csv_header(drift))  # a table has no room for the report
        if workbook:
            resp.content_type = MEDIA_XLSX
            resp.data = workbook_answer(table, scored)
        elif media_type != falcon.MEDIA_JSON:
            resp.content_type = f"{MEDIA_CSV}; charset=utf-8"  # text/* defaults to ASCII or Latin-1
            if echo:
                resp.data = echo_answer(table, scored)
            elif scored.interval_level is None and scored.contributions is None:
                resp.data = csv_response(scored.scores, batch.ids)
            else:
                resp.data = csv_answer(scored, batch.ids)
        else:
            resp.content_type = falcon.MEDIA_JSON
            answer = self._model.contract.answer(self._model.version, scored, batch, drift)
            resp.data = _encode(answer)

    @staticmethod
    def _answers_workbook(req: falcon.Request, media_type: str) -> bool:
        """A workbook is answered as one, unless CSV is preferred; CSV, when asked."""
        if media_type == MEDIA_XLSX:
            return req.client_prefers([MEDIA_XLSX, MEDIA_CSV]) != MEDIA_CSV
        return media_type == MEDIA_CSV and MEDIA_XLSX in (req.accept or "")

    def _read_body(self, req: falcon.Request) -> bytes:
        length = req.content_length
        if length is not None and length > self._max_body_bytes:
            raise TooLarge(self._too_large(length))
        if length is not None:
            return req.stream.read(length)
        # Chunked: no length given. Falcon's bounded_stream would read nothing without
        # a Content-Length; Gunicorn ends wsgi.input with the last chunk.
        body = req.stream.read(self._max_body_bytes + 1)
        if len(body) > self._max_body_bytes:
            raise TooLarge(self._too_large(None))
        return body

    def _too_large(self, length: int | None) -> str:
        size = f"{length} bytes" if length is not None else "the body"
        return f"{size} exceeds the limit of {self._max_body_bytes} bytes: split the cohort"


class Health:
    """GET /health: the process is up (says nothing about the model)."""

    _BODY = _encode(Status("ok"))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = self._BODY
        resp.content_type = falcon.MEDIA_JSON


class Ready:
    """GET /ready: 200 with the served version (an app without a model answers 503)."""

    def __init__(self, model: ServedModel) -> None:
        self._body = _encode(Status("ready", model.version))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body


class ModelInfo:
    """GET /model: the served version's metadata (schema, metrics, provenance)."""

    PUBLIC_KEYS = (
        "version", "created_at", "estimator", "metrics", "leaderboard",
        "parity", "training_data", "libraries", "model_sha256", "onnx",
        "group_errors", "excluded_features", "exclusion_cost",
    )  # fmt: skip

    def __init__(self, model: ServedModel) -> None:
        public = {k: model.metadata[k] for k in self.PUBLIC_KEYS if k in model.metadata}
        contract = model.contract.model
        schema = {"features": contract.features, "target": contract.target}
        options = model.contract.options.allowed()  # what POST /predictdata may ask
        card = CARD_PATH if model.card is not None else None
        self._body = _encode(
            {
                **public,
                "schema": schema,
                "intervals": contract.intervals,
                "options": options,
                "model_card": card,
            }
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body


class ModelCard:
    """GET /model/card: the served version's model card, as it was published."""

    def __init__(self, model: ServedModel) -> None:
        self._card = model.card
        self._version = model.version

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._card is None:
            raise falcon.HTTPNotFound(
                description=f"version {self._version} has no model card: it was published "
                "without one; publish the model again (python -m export) to get one"
            )
        resp.content_type = CARD_CONTENT_TYPE
        resp.set_headers(CARD_HEADERS)
        resp.data = self._card

    on_head = on_get


class Unavailable:
    """Every route but /health of an app with no verified model: one JSON 503."""

    def __call__(self, req: falcon.Request, resp: falcon.Response, **params) -> None:
        raise ModelUnavailable(UNAVAILABLE_MESSAGE)
