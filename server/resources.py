"""The HTTP resources: prediction, health, readiness and the served model's metadata."""

from __future__ import annotations

import falcon
import msgspec

from server.batch import Batch
from server.csv_input import CsvParser
from server.csv_output import csv_response
from server.drift_metrics import DriftCounts
from server.drift_resource import csv_header, record_drift, wants_drift_report
from server.errors import ModelUnavailable, TooLarge, UnsupportedMediaType
from server.json_input import JsonParser
from server.model import ServedModel
from server.rules import rules_from_metadata

MEDIA_CSV = "text/csv"
_encode = msgspec.json.Encoder().encode


class Predictions:
    """POST /predictdata: one student or a cohort, as JSON or CSV."""

    def __init__(
        self,
        model: ServedModel | None,
        max_body_bytes: int,
        max_rows: int,
        drift: DriftCounts | None = None,
    ) -> None:
        self._model = model
        self._drift = drift
        self._max_body_bytes = max_body_bytes
        if model is not None:
            rules = rules_from_metadata(model.metadata)
            self._parsers = {
                falcon.MEDIA_JSON: JsonParser(rules, max_rows),
                MEDIA_CSV: CsvParser(rules, max_rows),
            }

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._model is None:
            raise ModelUnavailable("no verified model is loaded; see the server log")
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
        wants_drift = wants_drift_report(req)
        batch = parser.parse(self._read_body(req))
        req.context.rows = batch.size
        columns = self._drift.as_arrays(batch.columns) if self._drift else batch.columns
        scores = self._model.scores(columns) if batch.size else []
        drift = record_drift(self._drift, columns, batch.size, wants_drift)
        resp.set_header("X-Model-Version", self._model.version)
        if media_type == MEDIA_CSV:
            resp.content_type = f"{MEDIA_CSV}; charset=utf-8"  # text/* defaults to ASCII or Latin-1
            resp.data = csv_response(scores, batch.ids)
            if drift is not None:
                resp.set_header(*csv_header(drift))
        else:
            resp.content_type = falcon.MEDIA_JSON
            answer = json_response(self._model.version, scores, batch)
            if drift is not None:
                answer["drift"] = drift
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


def json_response(version: str, scores: list[float], batch: Batch) -> dict:
    if batch.single:
        answer = {"model_version": version, "math_score": scores[0]}
        if batch.ids is not None:
            answer["id"] = batch.ids[0]
        return answer
    if batch.ids is None:
        predictions = [{"math_score": s} for s in scores]
    else:
        predictions = [
            {"id": i, "math_score": s} if i is not None else {"math_score": s}
            for i, s in zip(batch.ids, scores, strict=True)
        ]
    return {"model_version": version, "count": len(scores), "predictions": predictions}


class Health:
    """GET /health: the process is up (says nothing about the model)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = b'{"status":"ok"}'
        resp.content_type = falcon.MEDIA_JSON


class Ready:
    """GET /ready: 200 once a verified model is loaded, 503 otherwise."""

    def __init__(self, model: ServedModel | None) -> None:
        self._model = model

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._model is None:
            raise ModelUnavailable("no verified model is loaded; see the server log")
        resp.content_type = falcon.MEDIA_JSON
        resp.data = _encode({"status": "ready", "model_version": self._model.version})


class ModelInfo:
    """GET /model: the served version's metadata (schema, metrics, provenance)."""

    PUBLIC_KEYS = (
        "version", "created_at", "schema", "estimator", "metrics", "leaderboard",
        "parity", "training_data", "libraries", "model_sha256", "onnx",
    )  # fmt: skip

    def __init__(self, model: ServedModel | None) -> None:
        self._body = None
        if model is not None:
            self._body = _encode(
                {k: model.metadata[k] for k in self.PUBLIC_KEYS if k in model.metadata}
            )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._body is None:
            raise ModelUnavailable("no verified model is loaded; see the server log")
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body
