"""Checking answers against the server's own OpenAPI document."""

from __future__ import annotations

import jsonschema


def with_components(spec: dict, schema: dict) -> dict:
    """`schema` with the document's $refs resolvable."""
    return {**schema, "components": spec["components"]}


def documented(spec: dict, path: str, method: str, status: int, media: str) -> dict:
    response = spec["paths"][path][method]["responses"][str(status)]
    return with_components(spec, response["content"][media]["schema"])


def assert_documented(spec: dict, path: str, method: str, response) -> None:
    """The response's status, content type and body are what the document promises."""
    media = response.headers["content-type"].split(";")[0]
    schema = documented(spec, path, method, response.status_code, media)
    body = response.json if media == "application/json" else response.text
    jsonschema.validate(body, schema)
