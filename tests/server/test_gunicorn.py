"""The real server: the Procfile's web command under Gunicorn, over HTTP on loopback.

Reloads on SIGHUP are tested under load in tests/reliability/test_hot_reload.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

from benchmarks.launcher import procfile_web_command
from model_store.store import ModelStore
from server.config import MAX_REQUEST_LINE_BYTES
from tests.support.http import predict, request
from tests.support.models import REPO, STUDENT
from tests.support.servers import VENV, wait_for


def republish(store: ModelStore, onnx_bytes: bytes | None = None) -> str:
    """A second version of the committed model (or of other bytes), not yet current."""
    current = store.load()
    return store.publish(onnx_bytes or current.onnx_bytes, current.metadata, promote=False)


def test_procfile_runs_gunicorn_with_the_repo_config():
    command = procfile_web_command()
    assert command[0] == "gunicorn"
    config = command[command.index("--config") + 1]
    assert (REPO / config).is_file()


def test_procfile_command_binds_loopback_on_the_port_variable():
    # Tests hand Gunicorn a bound socket instead (no port race); this is what nginx reaches.
    env = {**os.environ, "PORT": "8123", "PATH": f"{VENV / 'bin'}:{os.environ['PATH']}"}
    command = [*procfile_web_command(), "--print-config"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert re.search(r"^bind += \['127\.0\.0\.1:8123'\]$", done.stdout, re.M), done.stderr


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
    _, headers, _ = request(server.url + "/predictdata", body, headers={"X-Request-ID": "trace-42"})
    assert headers["X-Request-ID"] == "trace-42"
    wait_for(lambda: any(e["request_id"] == "trace-42" for e in json_log_lines(server)),
             5, "the request's log line", server.log)  # fmt: skip
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


def test_bad_setting_stops_the_start_naming_the_variable(store, start_server):
    server = start_server(store.root, wait=False, MAX_ROWS="many")
    assert server.process.wait(timeout=20) != 0
    assert "MAX_ROWS='many' is not a whole number" in server.log()


def test_a_request_line_over_the_limit_is_a_documented_414(store, start_server):
    server = start_server(store.root)
    long_query = "interval=" + "9" * MAX_REQUEST_LINE_BYTES
    status, _, body = request(f"{server.url}/predictdata?{long_query}", b"{}")
    assert status == 414, body
    _, _, document = request(server.url + "/openapi.json")
    assert "414" in json.loads(document)["paths"]["/predictdata"]["post"]["responses"]
    assert predict(server, STUDENT)[0] == 200
