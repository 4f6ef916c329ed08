"""Model store faults seen from the real server: publishes killed half-way, and two
publishes at once. (The store's own guarantees are tested offline, in
tests/offline/test_model_store.py; here the question is whether the server
still starts and serves what CURRENT names.)"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

from benchmarks.answers import MEDIA_JSON
from benchmarks.students import json_body
from tests.support.models import REPO
from tests.support.servers import wait_for
from tests.support.traffic import exchange, request_head
from tests.support.workload import (
    Oracle,
    call,
    expect,
    judge,
    random_student,
    shifted_version,
)

# Publishes one model again and again (new version ids each time) until killed;
# told to wait, it reads a line from stdin first, so two children can publish at once.
PUBLISHER = """
import json, sys
from pathlib import Path
from model_store.store import ModelStore
store = ModelStore(sys.argv[1])
onnx_bytes, metadata = Path(sys.argv[2]).read_bytes(), json.loads(Path(sys.argv[3]).read_text())
wait, times = sys.argv[4] == "wait", int(sys.argv[5])
print("ready", flush=True)
if wait:
    sys.stdin.readline()
for _ in range(times):
    print(store.publish(onnx_bytes, metadata), flush=True)
"""


def publisher(store, files, wait: bool = False, times: int = 10**6) -> subprocess.Popen:
    """A child publishing `files`; with `wait`, it starts once a line reaches its stdin."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PUBLISHER,
            str(store.root),
            *map(str, files),
            "wait" if wait else "go",
            str(times),
        ],
        cwd=REPO,
        stdin=subprocess.PIPE if wait else None,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline() == "ready\n"
    return child


def write_version(store, points: float, folder, base: str) -> tuple:
    onnx_bytes, metadata = shifted_version(store, points, base)
    model_file, metadata_file = folder / f"model-{points}.onnx", folder / f"metadata-{points}.json"
    model_file.write_bytes(onnx_bytes)
    metadata_file.write_text(json.dumps(metadata))
    return model_file, metadata_file


def check_serves(server, store, version: str) -> None:
    """/ready names `version`, and a bulk request is scored as `version` scores it."""
    ready = exchange(server.port, request_head("GET", "/ready", {}))
    assert (ready.status, ready.json().get("model_version")) == (200, version), server.log()
    oracle = Oracle(store, version)
    rng = random.Random(7)
    students = [random_student(rng, oracle.metadata) for _ in range(30)]
    bulk = call("bulk", json_body(students), MEDIA_JSON, expect([oracle], students, cohort=True))
    assert judge(bulk, exchange(server.port, bulk.head, [bulk.body])) is None


def test_the_server_starts_and_serves_after_publishes_killed_at_random_points(
    store, start_server, tmp_path
):
    rng = random.Random(20261127)
    kills, base = 12, store.current_version()
    for attempt in range(kills):
        files = write_version(store, attempt + 1, tmp_path, base)
        child = publisher(store, files)
        # One publish (two fsyncs, a rename, a promote) takes a few ms: kill mid-way.
        time.sleep(rng.uniform(0.0, 0.03))
        child.send_signal(signal.SIGKILL)
        child.communicate()
    listed = store.versions()
    verify = subprocess.run(
        [sys.executable, "-m", "model_store", "--store", str(store.root), "verify"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    leftovers = [p.name for p in (store.root / "versions").iterdir() if p.name.startswith(".")]
    print(
        f"\n{kills} publishes killed: {len(listed)} versions listed, all verified: "
        f"{verify.returncode == 0}; {len(leftovers)} staging folder(s) left behind"
    )
    assert verify.returncode == 0, verify.stderr
    server = start_server(store.root)
    check_serves(server, store, store.current_version())


def test_two_publishes_at_once_both_land_and_a_reload_serves_the_promoted_one(
    store, start_server, tmp_path
):
    server = start_server(store.root)
    before, base = set(store.versions()), store.current_version()
    children = [publisher(store, write_version(store, p, tmp_path, base), True, 1) for p in (3, 5)]
    for child in children:  # both are up and waiting: let them go together
        child.stdin.write("go\n")
        child.stdin.flush()
    published = [child.communicate(timeout=30)[0].split() for child in children]
    assert [child.returncode for child in children] == [0, 0]
    (first,), (second,) = published
    assert first != second
    assert set(store.versions()) == before | {first, second}
    current = store.current_version()
    assert current in (first, second)
    server.process.send_signal(signal.SIGHUP)
    wait_for(lambda: f"reload: serving model version {current}" in server.log(), 30,
             "the reload", server.log)  # fmt: skip
    wait_for(
        lambda: exchange(server.port, request_head("GET", "/ready", {})).json().get("model_version")
        == current,
        30, f"{current} on /ready", server.log,
    )  # fmt: skip
    check_serves(server, store, current)
