"""The real server: the Procfile's web command under Gunicorn, over HTTP on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from model_store.store import ModelStore
from tests.server.conftest import REPO, STUDENT, procfile_web_command, server_environment


def request(url: str, body: bytes | None = None, content_type: str = "application/json"):
    """(status, headers, body) of one HTTP request; errors are answers too."""
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def predict(server, payload) -> tuple[int, dict]:
    status, _, body = request(server.url + "/predictdata", json.dumps(payload).encode())
    return status, json.loads(body)


def republish(store: ModelStore, onnx_bytes: bytes | None = None) -> str:
    """A second version of the committed model (or of other bytes), not yet current."""
    current = store.load()
    return store.publish(onnx_bytes or current.onnx_bytes, current.metadata, promote=False)


def test_procfile_runs_gunicorn_with_the_repo_config():
    command = procfile_web_command()
    assert command[0] == "gunicorn"
    config = command[command.index("--config") + 1]
    assert (REPO / config).is_file()


def test_serves_single_bulk_and_csv_over_http(store, start_server):
    server = start_server(store.root)
    status, single = predict(server, STUDENT)
    assert status == 200
    assert single["model_version"] == store.current_version()
    status, bulk = predict(server, [{**STUDENT, "id": i} for i in range(3)])
    assert [p["id"] for p in bulk["predictions"]] == [0, 1, 2]
    assert {p["math_score"] for p in bulk["predictions"]} == {single["math_score"]}
    header = ",".join(k for k in STUDENT)
    row = ",".join(str(v) for v in STUDENT.values())
    status, headers, body = request(
        server.url + "/predictdata", f"{header}\n{row}\n".encode(), "text/csv"
    )
    assert (status, body.decode()) == (200, f"math_score\n{single['math_score']}\n")
    assert headers["X-Request-ID"]


def test_bad_requests_get_json_errors_and_the_server_keeps_answering(store, start_server):
    server = start_server(store.root)
    assert predict(server, {**STUDENT, "lunch": "caviar"})[0] == 422
    assert request(server.url + "/predictdata", b"{broken")[0] == 400
    assert (
        request(server.url + "/predictdata", b"a=1", "application/x-www-form-urlencoded")[0] == 415
    )
    assert request(server.url + "/predictdata")[0] == 405
    assert predict(server, STUDENT)[0] == 200


def test_body_over_the_configured_limit_is_a_413(store, start_server):
    server = start_server(store.root, MAX_BODY_BYTES="1000")
    status, _, body = request(server.url + "/predictdata", json.dumps([STUDENT] * 20).encode())
    assert status == 413
    assert "limit of 1000 bytes" in json.loads(body)["error"]


def json_log_lines(server) -> list[dict]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def test_one_json_log_line_per_request_with_the_callers_request_id(store, start_server):
    server = start_server(store.root)
    body = json.dumps([STUDENT] * 3).encode()
    req = urllib.request.Request(
        server.url + "/predictdata",
        data=body,
        headers={"Content-Type": "application/json", "X-Request-ID": "trace-42"},
    )
    with urllib.request.urlopen(req, timeout=5) as response:
        assert response.headers["X-Request-ID"] == "trace-42"
    deadline = time.monotonic() + 5
    while not any(e["request_id"] == "trace-42" for e in json_log_lines(server)):
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    (entry,) = [e for e in json_log_lines(server) if e["request_id"] == "trace-42"]
    assert entry["method"] == "POST"
    assert entry["path"] == "/predictdata"
    assert (entry["status"], entry["rows"]) == (200, 3)
    assert entry["duration_ms"] > 0
    assert entry["model_version"] == store.current_version()


def test_corrupt_model_at_start_is_one_clear_line_and_a_non_zero_exit(store, start_server):
    model_path = store.root / "versions" / store.current_version() / "model.onnx"
    os.chmod(model_path, 0o644)
    model_path.write_bytes(b"not an onnx graph")
    server = start_server(store.root, wait=False)
    assert server.process.wait(timeout=20) != 0
    errors = [line for line in server.log().splitlines() if "cannot serve" in line]
    assert len(errors) == 1
    assert "SHA-256" in errors[0]
    assert "Traceback" not in server.log()


def test_unloadable_model_with_matching_sha_is_refused_at_start(store, start_server):
    version = republish(store, onnx_bytes=b"garbage that hashes fine")
    store.promote(version)
    server = start_server(store.root, wait=False)
    assert server.process.wait(timeout=20) != 0
    assert "onnxruntime cannot load the model" in server.log()


def test_bad_setting_stops_the_start_naming_the_variable(store):
    command = procfile_web_command()
    env = server_environment(store.root, MAX_ROWS="many")
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert "MAX_ROWS='many' is not a whole number" in result.stderr


class SteadyTraffic:
    """Requests in a loop from a thread, recording every answer."""

    def __init__(self, server) -> None:
        self.server = server
        self.answers: list[tuple[int, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = predict(self.server, [STUDENT, STUDENT])
                self.answers.append((status, body.get("model_version")))
            except OSError as exc:  # a refused or reset connection is a failed request
                self.answers.append((0, str(exc)))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def wait_for_version(server, version: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(predict(server, STUDENT)[1].get("model_version") == version for _ in range(6)):
            return
        time.sleep(0.1)
    raise AssertionError(f"{version} not served after {timeout} s:\n{server.log()}")


def test_sighup_after_promote_serves_the_new_version_without_failed_requests(store, start_server):
    server = start_server(store.root)
    old = store.current_version()
    new = republish(store)
    with SteadyTraffic(server) as traffic:
        time.sleep(0.3)
        store.promote(new)
        server.process.send_signal(signal.SIGHUP)
        wait_for_version(server, new)
        time.sleep(0.3)
    statuses = {status for status, _ in traffic.answers}
    assert statuses == {200}, traffic.answers
    assert {version for _, version in traffic.answers} == {old, new}


def test_sighup_with_a_broken_promoted_version_keeps_the_old_one(store, start_server):
    server = start_server(store.root)
    old = store.current_version()
    broken = republish(store, onnx_bytes=b"garbage that hashes fine")
    store.promote(broken)
    with SteadyTraffic(server) as traffic:
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "reload refused" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the replacement workers are up by now
    assert "reload refused, still serving " + old in server.log()
    assert {status for status, _ in traffic.answers} == {200}
    assert {version for _, version in traffic.answers} == {old}
    status, _, body = request(server.url + "/ready")
    assert json.loads(body)["model_version"] == old
