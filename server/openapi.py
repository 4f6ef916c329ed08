"""GET /openapi.json: the OpenAPI 3.1 document, generated from the contract's types.

The schemas are msgspec's JSON Schema for the very Structs the server decodes
and encodes (server/contract.py, server/errors.py), so the enums, bounds and
limits it shows are exactly those enforced; only the path wiring is written here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

import falcon
import msgspec

from server.access import HOW_TO_SEND, OPEN_ROUTES
from server.config import MAX_REQUEST_LINE_BYTES
from server.contract import ServingContract, Status
from server.drift_resource import DriftAnswer
from server.errors import MAX_REPORTED_ERRORS, ErrorAnswer
from server.rules import ID_FIELD

JSON = "application/json"
CSV = "text/csv"
REF_TEMPLATE = "#/components/schemas/{name}"
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


_GROUP = {
    "type": "object",
    "properties": {
        "count": {"type": "integer", "minimum": 0},
        "mae": {"type": "number", "description": "mean absolute error, in points"},
        "bias": {"type": "number", "description": "mean of prediction - actual, in points"},
    },
}
_BY_FIELD = {
    "type": "object",
    "description": "field (or math_score_band) -> value -> the error of its students",
    "additionalProperties": {"type": "object", "additionalProperties": _GROUP},
}
# What GET /model adds to the metadata for a district's review; older versions lack some.
MODEL_INFO_SCHEMA = {
    "type": "object",
    "properties": {
        "version": {"type": "string"},
        "group_errors": {
            "type": "object",
            "description": "per-group error on the holdout and out of fold (training split)",
            "properties": {"holdout": _BY_FIELD, "out_of_fold": _BY_FIELD},
        },
        "excluded_features": {
            "type": "array",
            "items": {"type": "string"},
            "description": "fields the model was trained without: not asked for, ignored if sent",
        },
        "exclusion_cost": {
            "type": ["object", "null"],
            "description": "holdout accuracy with every feature and without the excluded ones",
        },
        "model_card": {
            "type": ["string", "null"],
            "description": "the path of the version's model card, or null if it has none",
        },
    },
}


def csv_example(contract: ServingContract) -> str:
    """A header and one valid student: documented examples must be accepted."""
    rules = contract.rules
    values = [
        sorted(r.categories)[0] if r.categories else f"{(r.minimum + r.maximum) / 2:g}"
        for r in rules
    ]
    return ",".join([ID_FIELD, *(r.name for r in rules)]) + "\n" + ",".join(["s-1", *values]) + "\n"


def no_key_needed(path: str) -> bool:
    return False


def openapi_document(
    contract: ServingContract, version: str, needs_key: Callable[[str], bool] = no_key_needed
) -> dict:
    """The document; `needs_key(path)` says which routes this server guards with keys."""
    student = contract.student
    schemas, components = msgspec.json.schema_components(
        [
            Union[student, list[student]],  # noqa: UP007
            contract.single,
            contract.bulk,
            ErrorAnswer,
            Status,
            DriftAnswer,
        ],
        ref_template=REF_TEMPLATE,
    )
    request_schema, single_schema, bulk_schema, error_schema, status_schema, drift_schema = schemas
    # One answer type per request shape; msgspec joins only tagged Structs in a union.
    answer_schema = {"oneOf": [single_schema, bulk_schema]}

    def json_body(schema: dict, description: str) -> dict:
        return {"description": description, "content": {JSON: {"schema": schema}}}

    def failure(description: str) -> dict:
        return json_body(error_schema, description)

    def text(media_type: str, description: str) -> dict:
        return {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}

    (option_schemas,) = msgspec.json.schema_components([contract.options.type])[1].values()
    options = [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in option_schemas["properties"].items()
    ]
    predict = {
        "summary": "Predict math scores for one student or a cohort",
        "description": "A cohort with any invalid row scores nothing: the 422 lists every "
        f"bad row and field (up to {MAX_REPORTED_ERRORS}, with the total). The options add "
        "fields to each answer (CSV: columns of the same names, contribution_<field> per field).",
        "parameters": options,
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": request_schema},
                CSV: {
                    "schema": {"type": "string", "minLength": 1},
                    "example": csv_example(contract),
                },
            },
        },
        "responses": {
            "200": {
                "description": "Scores, in request order",
                "content": {JSON: {"schema": answer_schema}, CSV: {"schema": {"type": "string"}}},
            },
            "400": failure("Malformed JSON or CSV"),
            "413": failure("Body or row count over the limit"),
            "414": text(
                "text/html",
                f"Request line (path and query) over {MAX_REQUEST_LINE_BYTES:,} bytes: "
                "refused by Gunicorn before the app, as HTML",
            ),
            "415": failure("Unsupported Content-Type or Content-Encoding"),
            "422": failure("Invalid fields or options; nothing was scored"),
            "500": failure("Unexpected error (logged with the request id)"),
            "503": failure("No verified model loaded"),
        },
    }
    any_object = {"type": "object"}
    paths = {
        "/predictdata": {"post": predict},
        "/health": {
            "get": {
                "summary": "Process is up",
                "responses": {"200": json_body(status_schema, "Up")},
            }
        },
        "/ready": {
            "get": {
                "summary": "A verified model is loaded",
                "responses": {
                    "200": json_body(status_schema, "Ready"),
                    "503": failure("Not ready"),
                },
            }
        },
        "/model": {
            "get": {
                "summary": "The served model's metadata",
                "responses": {
                    "200": json_body(MODEL_INFO_SCHEMA, "Metadata"),
                    "503": failure("No model"),
                },
            }
        },
        "/model/card": {
            "get": {
                "summary": "The served version's model card",
                "description": "One self-contained HTML page, written when the version was "
                "published: intended use and limits, the data, the leaderboard, holdout "
                "metrics, predicted vs actual, error by group and interval coverage.",
                "responses": {
                    "200": text("text/html", "The card"),
                    "404": failure("This version was published without a card"),
                    "503": failure("No model"),
                },
            }
        },
        "/drift": {
            "get": {
                "summary": "Are the students scored lately like the training data?",
                "description": "Per field: a distance, the students it rests on and a verdict, "
                "since the server started and over the recent window (docs/drift.md).",
                "responses": {
                    "200": json_body(drift_schema, "Drift reports"),
                    "404": failure(
                        "This model version carries no drift reference, or live counting "
                        "is off (DRIFT_COUNTS=false)"
                    ),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": text("text/plain", "Prometheus text format")},
            }
        },
        "/": {"get": {"summary": "The web page", "responses": {"200": text("text/html", "HTML")}}},
        "/static/{name}": {
            "get": {
                "summary": "The page's scripts and styles",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "The file"}, "404": failure("No such file")},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": json_body(any_object, "OpenAPI 3.1")},
            }
        },
    }
    _declare_keys(paths, failure, needs_key)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "studypredict",
            "version": version,
            "description": f"Predicts a student's math score. Served model: {version}.",
        },
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }


def _declare_keys(
    paths: dict, failure: Callable[[str], dict], needs_key: Callable[[str], bool]
) -> None:
    """Every route but the open ones takes a key (either scheme); where this server
    runs without keys, no key ({}) is accepted too, and the 401 cannot happen."""
    schemes = [{name: []} for name in SECURITY_SCHEMES]
    for path, operations in paths.items():
        if path in OPEN_ROUTES:
            continue
        required = needs_key(path)
        refused = failure(
            f"No valid API key{'' if required else ' (only when the server requires keys)'}: "
            f"{HOW_TO_SEND}"
        )
        refused["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        for operation in operations.values():
            operation["security"] = schemes if required else [*schemes, {}]
            operation["responses"]["401"] = refused


def build_openapi(metadata: dict) -> dict:
    """The document a server of this version's metadata serves."""
    return openapi_document(ServingContract.from_metadata(metadata), metadata["version"])


class OpenApi:
    """GET /openapi.json, built once per worker from the served model's contract."""

    def __init__(
        self,
        contract: ServingContract,
        version: str,
        needs_key: Callable[[str], bool] = no_key_needed,
    ) -> None:
        self._body = msgspec.json.encode(openapi_document(contract, version, needs_key))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body
