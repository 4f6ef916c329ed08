"""GET /openapi.json: the OpenAPI 3.1 document, generated from the contract's types.

The schemas are msgspec's JSON Schema for the very Structs the server decodes
and encodes (server/contract.py, server/errors.py), so the enums, bounds and
limits it shows are exactly those enforced; only the path wiring is written here.
"""

from __future__ import annotations

from typing import Union

import falcon
import msgspec

from server.contract import ServingContract, Status
from server.drift_resource import DriftAnswer
from server.errors import MAX_REPORTED_ERRORS, ErrorAnswer
from server.rules import ID_FIELD

JSON = "application/json"
CSV = "text/csv"
REF_TEMPLATE = "#/components/schemas/{name}"


def csv_example(contract: ServingContract) -> str:
    """A header and one valid student: documented examples must be accepted."""
    rules = contract.rules
    values = [
        sorted(r.categories)[0] if r.categories else f"{(r.minimum + r.maximum) / 2:g}"
        for r in rules
    ]
    return ",".join([ID_FIELD, *(r.name for r in rules)]) + "\n" + ",".join(["s-1", *values]) + "\n"


def openapi_document(contract: ServingContract, version: str) -> dict:
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
                "responses": {"200": json_body(any_object, "Metadata"), "503": failure("No model")},
            }
        },
        "/drift": {
            "get": {
                "summary": "Are the students scored lately like the training data?",
                "description": "Per field: a distance, the students it rests on and a verdict, "
                "since the server started and over the recent window (docs/drift.md).",
                "responses": {
                    "200": json_body(drift_schema, "Drift reports"),
                    "404": failure("This model version carries no drift reference"),
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
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "studypredict",
            "version": version,
            "description": f"Predicts a student's math score. Served model: {version}.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }


def build_openapi(metadata: dict) -> dict:
    """The document a server of this version's metadata serves."""
    return openapi_document(ServingContract.from_metadata(metadata), metadata["version"])


class OpenApi:
    """GET /openapi.json, built once per worker from the served model's contract."""

    def __init__(self, contract: ServingContract, version: str) -> None:
        self._body = msgspec.json.encode(openapi_document(contract, version))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body
