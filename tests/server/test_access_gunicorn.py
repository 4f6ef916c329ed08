"""API keys in the real server (the Procfile's Gunicorn): the issue's "done when" list."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from server.keys import configuration_entry
from tests.support.models import STUDENT
from tests.support.servers import start

DISTRICT = "district-" + "D" * 40
SCHOOL = "school-" + "S" * 40
SCRAPER = "scraper-" + "P" * 40
KEYED = {
    "API_KEY_SHA256S": f"{configuration_entry('district', DISTRICT)},"
    f"{configuration_entry('school', SCHOOL)}",
    "METRICS_API_KEY_SHA256S": configuration_entry("scraper", SCRAPER),
}


def call(server, path: str, headers: dict[str, str], body: bytes | None = None):
    """(status, headers, parsed JSON or text) of one request; errors are answers too."""
    request = urllib.request.Request(
        server.url + path, data=body, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    is_json = answer_headers.get("Content-Type", "").startswith("application/json")
    return status, answer_headers, json.loads(raw) if is_json else raw.decode()


def predict(server, headers: dict[str, str]):
    return call(server, "/predictdata", headers, json.dumps(STUDENT).encode())


@pytest.fixture
def keyed_server(store, start_server):
    return start_server(store.root, **KEYED)


def test_keys_decide_who_scores(keyed_server):
    refused = {
        "no key": {},
        "wrong key": {"Authorization": "Bearer guessed"},
        "malformed header": {"Authorization": f"Token {DISTRICT}"},
        "metrics-only key": {"Authorization": f"Bearer {SCRAPER}"},
    }
    for case, headers in refused.items():
        status, answer_headers, body = predict(keyed_server, headers)
        assert status == 401, case
        assert answer_headers["WWW-Authenticate"] == 'Bearer realm="studypredict"', case
        assert "API key" in body["error"] or "Bearer <key>" in body["error"], case
    for key in (DISTRICT, SCHOOL):  # rotation: old and new both work meanwhile
        status, _, body = predict(keyed_server, {"Authorization": f"Bearer {key}"})
        assert status == 200 and isinstance(body["math_score"], float)
    assert predict(keyed_server, {"X-API-Key": SCHOOL})[0] == 200


def test_the_load_balancers_checks_stay_open(keyed_server):
    assert call(keyed_server, "/health", {})[0] == 200
    assert call(keyed_server, "/ready", {})[0] == 200


def test_metrics_need_the_metrics_key(keyed_server):
    assert call(keyed_server, "/metrics", {"Authorization": f"Bearer {DISTRICT}"})[0] == 401
    status, _, text = call(keyed_server, "/metrics", {"X-API-Key": SCRAPER})
    assert status == 200
    assert "studypredict_requests_total" in text


def access_lines(server) -> list[dict]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def test_the_access_log_names_the_key_and_never_holds_it(keyed_server):
    predict(keyed_server, {"Authorization": f"Bearer {DISTRICT}", "X-Request-ID": "keyed-1"})
    predict(keyed_server, {"Authorization": "Bearer guessed-key", "X-Request-ID": "keyed-2"})
    deadline = time.monotonic() + 5
    while {"keyed-1", "keyed-2"} - {e["request_id"] for e in access_lines(keyed_server)}:
        assert time.monotonic() < deadline, keyed_server.log()
        time.sleep(0.05)
    by_id = {e["request_id"]: e for e in access_lines(keyed_server)}
    assert (by_id["keyed-1"]["status"], by_id["keyed-1"]["api_key"]) == (200, "district")
    assert (by_id["keyed-2"]["status"], by_id["keyed-2"]["api_key"]) == (401, None)
    log = keyed_server.log()
    assert DISTRICT not in log and "guessed-key" not in log
    assert "NO API KEYS CONFIGURED" not in log


def test_an_open_server_says_so_loudly_once(store, start_server):
    server = start_server(store.root, WEB_CONCURRENCY="2")
    assert server.log().count("NO API KEYS CONFIGURED") == 1
    assert predict(server, {})[0] == 200


def start_and_fail(store, tmp_path, **env: str) -> tuple[int, str]:
    """The Procfile's server started with `env`, waited for until it exits: its code and log."""
    server = start(store.root, tmp_path / "server.log", **env)
    try:
        code = server.process.wait(timeout=30)
    finally:
        server.stop()
    return code, server.log()


def test_required_keys_refuse_to_start_without_keys_in_one_line(store, tmp_path):
    code, log = start_and_fail(store, tmp_path, REQUIRE_API_KEYS="true", API_KEY_SHA256S="")
    assert code != 0
    (line,) = [line for line in log.splitlines() if "REQUIRE_API_KEYS" in line]
    assert "API_KEY_SHA256S is empty" in line
    assert "Traceback" not in log


def test_bad_key_syntax_stops_the_start_naming_the_variable(store, tmp_path):
    code, log = start_and_fail(store, tmp_path, API_KEY_SHA256S=f"district:{DISTRICT}")
    assert code != 0
    assert "API_KEY_SHA256S: entry 1 is not NAME:SHA256" in log
    assert DISTRICT not in log
