"""Every request of the hostile corpus against the real Gunicorn, over a raw socket.

One server serves the whole corpus: a request that crashed or wedged a worker
would show in the next one (a normal request must still get 200) and in the
worker pids (none may have been replaced).
"""

from __future__ import annotations

import json

import pytest

from tests.support import hostile, servers
from tests.support.models import STUDENT
from tests.support.traffic import Answer, exchange, post_head

ENTRIES = hostile.load()
MAX_ERROR_BYTES = 64 * 1024  # an error names the problem; it never echoes a 10 MB value


def _param(entry: dict):
    marks = (
        [pytest.mark.xfail(strict=True, reason=f"bug: {entry['bug']}")] if "bug" in entry else []
    )
    return pytest.param(entry, id=entry["name"], marks=marks)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with servers.watched_committed_server(tmp_path_factory.mktemp("hostile")) as running:
        yield running


def normal_request(server) -> Answer:
    body = json.dumps(STUDENT).encode()
    return exchange(server.port, post_head(len(body), "application/json"), [body])


def test_every_answer_that_is_not_an_error_says_why_in_the_corpus():
    for entry in ENTRIES:
        assert entry["expect"]["status"] != 200 or entry.get("decision"), entry["name"]


@pytest.mark.parametrize("entry", [_param(e) for e in ENTRIES])
def test_hostile_request_gets_its_status_and_a_useful_json_error(server, entry):
    request = hostile.build(entry)
    answer = exchange(server.port, request.head, request.parts, pause=request.pause, timeout=30)
    expect = request.expect
    try:
        assert answer.status == expect["status"], (answer.failure, answer.body[:300])
        if request.pause:  # a slow client is answered from the head, not after its whole body
            assert answer.finished - answer.started < request.pause * len(request.parts) / 2
        if answer.status == 200:
            assert predictions_in(answer) == expect["count"]
        else:
            check_error(answer, expect)
    finally:
        # Whatever this request did, the server still answers the next one, with the same workers.
        assert normal_request(server).status == 200, server.log()[-2000:]
        assert sorted(server.worker_pids()) == server.initial_workers, server.log()[-2000:]


def predictions_in(answer: Answer) -> int:
    if answer.headers["content-type"].startswith("text/csv"):
        return len(answer.body.decode().splitlines()) - 1
    body = answer.json()
    return body["count"] if "predictions" in body else 1


def check_error(answer: Answer, expect: dict) -> None:
    assert answer.headers["content-type"] == "application/json"
    assert len(answer.body) < MAX_ERROR_BYTES
    body = answer.json()
    assert isinstance(body["error"], str) and body["error"]
    details = body.get("details", [])
    text = " ".join([body["error"], *(d["message"] for d in details)])
    for fragment in expect.get("error_contains", []):
        assert fragment in text, (fragment, body)
    named = {(d["row"], d["field"]) for d in details}
    for row, field in expect.get("fields", []):
        assert (row, field) in named, body
