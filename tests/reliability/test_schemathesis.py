"""Schemathesis against the server's own OpenAPI document: a bounded number of
generated requests per operation, valid and invalid, sent to the Procfile's Gunicorn
on loopback. No answer may be a 5xx, and every answer must keep the document's
promises: a documented status, a documented content type, and a body that validates
against the schema listed for that status.

The operations are parametrized at collection time from the document built for the
committed model (server.openapi.build_openapi); each test first checks that the
running server's GET /openapi.json is exactly that document. (Loading it from the live
server through schemathesis.pytest.from_fixture is not possible here: schemathesis
4.32.5 sets pytest's private Node._nodeid there, which pytest 9 no longer has.)
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from benchmarks.launcher import Server
from model_store.store import DEFAULT_ROOT, ModelStore
from server.openapi import build_openapi
from tests.support import servers

_committed = ModelStore(DEFAULT_ROOT)
DOCUMENT = build_openapi(_committed.metadata(_committed.current_version()))

schema = schemathesis.openapi.from_dict(DOCUMENT)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """One real server on a copy of the committed store for every operation: the
    requests only read it, and a worker a request crashed shows in the pid check."""
    with servers.watched_committed_server(tmp_path_factory.mktemp("schemathesis")) as running:
        yield running


@pytest.fixture
def server_url(server) -> Iterator[str]:
    """The shared server's URL, once it is checked to serve DOCUMENT; afterwards, no
    worker may have been replaced (a crash would otherwise hide behind a fresh one)."""
    with urllib.request.urlopen(f"{server.url}/openapi.json", timeout=10) as response:
        served = json.load(response)
    assert served == DOCUMENT, "the server's /openapi.json is not the document under test"
    yield server.url
    assert server.worker_pids() == server.initial_workers, server.log()[-3000:]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_document(case, server_url):
    case.call_and_validate(base_url=server_url, checks=CHECKS, timeout=10)
