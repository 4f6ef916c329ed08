"""The HTTP resources: prediction, health, readiness and the served model's metadata."""

from __future__ import annotations

import falcon
import msgspec

from server.contract import Status
from server.csv_input import CsvParser
from server.csv_output import csv_answer, csv_response
from server.drift_metrics import DriftCounts
from server.drift_resource import csv_header, record_drift
from server.errors import ModelUnavailable, TooLarge, UnsupportedMediaType
from server.json_input import JsonParser
from server.model import Scored, ServedModel
from server.request_context import StudyRequest

MEDIA_CSV = "text/csv"
UNAVAILABLE_MESSAGE = "no verified model is loaded; see the server log"
_encode = msgspec.json.Encoder().encode


class Predictions:
    """POST /predictdata: one student or a cohort, as JSON or CSV."""

    def __init__(
        self,
        model: ServedModel,
        max_body_bytes: int,
        max_rows: int,
        drift: DriftCounts | None = None,
    ) -> None:
        self._model = model
        self._drift = drift
        self._max_body_bytes = max_body_bytes
        self._parsers = {
            falcon.MEDIA_JSON: JsonParser(model.contract, max_rows),
            MEDIA_CSV: CsvParser(model.contract, max_rows),
        }
        self._options = model.contract.options

    def on_post(self, req: StudyRequest, resp: falcon.Response) -> None:
        media_type = (req.content_type or "").split(";", 1)[0].strip().lower()
        parser = self._parsers.get(media_type)
        if parser is None:
            raise UnsupportedMediaType(
                f"Content-Type {req.content_type or '(none)'!r} is not supported; "
                "send application/json (a student object or an array) or text/csv"
            )
        encoding = (req.get_header("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise UnsupportedMediaType(
                f"Content-Encoding {encoding!r} is not supported; send the body uncompressed"
            )
        # Options are opt-in: a request without a query string takes the plain path.
        options = self._options.from_query_string(req.query_string) if req.query_string else None
        batch = parser.parse(self._read_body(req))
        req.context.rows = batch.size
        columns = self._drift.as_arrays(batch.columns) if self._drift else batch.columns
        if options is None:
            scored = Scored(self._model.scores(columns) if batch.size else [])
        else:
            scored = self._model.predict(columns, options)
        wants_drift = options is not None and options.report is not None
        drift = record_drift(self._drift, columns, batch.size, wants_drift)
        resp.set_header("X-Model-Version", self._model.version)
        if media_type == MEDIA_CSV:
            resp.content_type = f"{MEDIA_CSV}; charset=utf-8"  # text/* defaults to ASCII or Latin-1
            if scored.interval_level is None and scored.contributions is None:
                resp.data = csv_response(scored.scores, batch.ids)
            else:
                resp.data = csv_answer(scored, batch.ids)
            if drift is not None:
                resp.set_header(*csv_header(drift))
        else:
            resp.content_type = falcon.MEDIA_JSON
            answer = self._model.contract.answer(self._model.version, scored, batch, drift)
            resp.data = _encode(answer)

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
    )  # fmt: skip

    def __init__(self, model: ServedModel) -> None:
        public = {k: model.metadata[k] for k in self.PUBLIC_KEYS if k in model.metadata}
        contract = model.contract.model
        schema = {"features": contract.features, "target": contract.target}
        options = model.contract.options.allowed()  # what POST /predictdata may ask
        self._body = _encode(
            {**public, "schema": schema, "intervals": contract.intervals, "options": options}
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body


class Unavailable:
    """Every route but /health of an app with no verified model: one JSON 503."""

    def __call__(self, req: falcon.Request, resp: falcon.Response, **params) -> None:
        raise ModelUnavailable(UNAVAILABLE_MESSAGE)
