"""GET /openapi.json: an OpenAPI 3.1 document built from the served model's schema,
so the enums and bounds it shows are exactly what the validator enforces."""

from __future__ import annotations

import falcon
import msgspec

from server.rules import ID_FIELD, rules_from_metadata

JSON = "application/json"
CSV = "text/csv"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


def student_schema(metadata: dict) -> dict:
    properties: dict = {
        ID_FIELD: {"type": ["string", "integer", "null"], "description": "echoed back"}
    }
    for rule in rules_from_metadata(metadata):
        if rule.categories is not None:
            properties[rule.name] = {"type": "string", "enum": sorted(rule.categories)}
        else:
            properties[rule.name] = {
                "type": "number", "minimum": rule.minimum, "maximum": rule.maximum,
            }  # fmt: skip
    required = [r.name for r in rules_from_metadata(metadata)]
    return {"type": "object", "properties": properties, "required": required}


def csv_example(metadata: dict) -> str:
    """A header and one valid student: documented examples must be accepted."""
    rules = rules_from_metadata(metadata)
    values = [
        sorted(r.categories)[0] if r.categories else f"{(r.minimum + r.maximum) / 2:g}"
        for r in rules
    ]
    return ",".join([ID_FIELD, *(r.name for r in rules)]) + "\n" + ",".join(["s-1", *values]) + "\n"


def build_openapi(metadata: dict) -> dict:
    score = {"type": "number", "description": "predicted math score, 0–100 scale"}
    schemas = {
        "Student": student_schema(metadata),
        "Prediction": {
            "type": "object",
            "properties": {ID_FIELD: {"type": ["string", "integer"]}, "math_score": score},
            "required": ["math_score"],
        },
        "SinglePrediction": {
            "type": "object",
            "properties": {
                "model_version": {"type": "string"},
                "math_score": score,
                ID_FIELD: {"type": ["string", "integer"]},
            },
            "required": ["model_version", "math_score"],
        },
        "BulkPrediction": {
            "type": "object",
            "properties": {
                "model_version": {"type": "string"},
                "count": {"type": "integer", "minimum": 0},
                "predictions": {"type": "array", "items": _ref("Prediction")},
            },
            "required": ["model_version", "count", "predictions"],
        },
        "Error": {
            "type": "object",
            "properties": {
                "error": {"type": "string", "description": "what is wrong and how to fix it"},
                "details": {
                    "type": "array",
                    "maxItems": 100,
                    "items": {
                        "type": "object",
                        "properties": {
                            "row": {"type": ["integer", "null"], "minimum": 1},
                            "field": {"type": ["string", "null"]},
                            "message": {"type": "string"},
                        },
                        "required": ["row", "field", "message"],
                    },
                },
                "total_errors": {"type": "integer", "minimum": 0},
            },
            "required": ["error"],
        },
    }
    status = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "model_version": {"type": "string"}},
        "required": ["status"],
    }
    predict = {
        "summary": "Predict math scores for one student or a cohort",
        "description": "A cohort with any invalid row scores nothing: the 422 lists every "
        "bad row and field (up to 100, with the total).",
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": {
                        "oneOf": [_ref("Student"), {"type": "array", "items": _ref("Student")}]
                    }
                },
                CSV: {
                    "schema": {"type": "string", "minLength": 1},
                    "example": csv_example(metadata),
                },
            },
        },
        "responses": {
            "200": {
                "description": "Scores, in request order",
                "content": {
                    JSON: {"schema": {"oneOf": [_ref("SinglePrediction"), _ref("BulkPrediction")]}},
                    CSV: {"schema": {"type": "string"}},
                },
            },
            "400": _error("Malformed JSON or CSV"),
            "413": _error("Body or row count over the limit"),
            "415": _error("Unsupported Content-Type or Content-Encoding"),
            "422": _error("Invalid fields; nothing was scored"),
            "500": _error("Unexpected error (logged with the request id)"),
            "503": _error("No verified model loaded"),
        },
    }
    text = {
        "description": "Prometheus text format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    html = {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "studypredict",
            "version": metadata.get("version", "unknown"),
            "description": "Predicts a student's math score. Served model: "
            f"{metadata.get('version')}.",
        },
        "paths": {
            "/predictdata": {"post": predict},
            "/health": {
                "get": {"summary": "Process is up", "responses": {"200": _json(status, "Up")}}
            },  # fmt: skip
            "/ready": {
                "get": {
                    "summary": "A verified model is loaded",
                    "responses": {"200": _json(status, "Ready"), "503": _error("Not ready")},
                }
            },
            "/model": {
                "get": {
                    "summary": "The served model's metadata",
                    "responses": {
                        "200": _json({"type": "object"}, "Metadata"),
                        "503": _error("No model"),
                    },  # fmt: skip
                }
            },
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": text}}},
            "/": {"get": {"summary": "The web page", "responses": {"200": html}}},
            "/static/{name}": {
                "get": {
                    "summary": "The page's scripts and styles",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "The file"},
                        "404": _error("No such file"),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }  # fmt: skip
            },
        },
        "components": {"schemas": schemas},
    }


class OpenApi:
    """GET /openapi.json, built once per worker from the served model's metadata."""

    def __init__(self, metadata: dict | None) -> None:
        self._body = msgspec.json.encode(build_openapi(metadata)) if metadata else None

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._body is None:
            raise falcon.HTTPServiceUnavailable(description="no verified model is loaded")
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body
