"""GET /metrics from the real multi-worker server: counts add up across workers."""

from __future__ import annotations

import os
import re
import signal

from tests.support.http import predict, request
from tests.support.models import STUDENT
from tests.support.servers import wait_for


def scrape(server) -> dict[str, float]:
    status, headers, body = request(server.url + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    samples = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_counts_add_up_across_workers(store, start_server):
    server = start_server(store.root)
    assert len(server.worker_pids()) == 2
    for _ in range(20):
        assert predict(server, STUDENT)[0] == 200
    for _ in range(5):
        assert predict(server, [STUDENT] * 10)[0] == 200
    for _ in range(3):
        assert predict(server, {**STUDENT, "lunch": "caviar", "reading_score": 101})[0] == 422
    samples = scrape(server)
    post = 'studypredict_requests_total{endpoint="/predictdata",method="POST",status="%s"}'
    assert samples[post % 200] == 25
    assert samples[post % 422] == 3
    assert samples["studypredict_students_scored_total"] == 20 + 5 * 10
    assert samples['studypredict_validation_failures_total{field="lunch"}'] == 3
    assert samples['studypredict_validation_failures_total{field="reading_score"}'] == 3
    version = store.current_version()
    assert samples[f'studypredict_model_info{{version="{version}"}}'] == 1
    count = 'studypredict_request_duration_seconds_count{endpoint="/predictdata"}'
    assert samples[count] == 28


def test_counts_survive_a_worker_being_replaced(store, start_server):
    server = start_server(store.root)
    for _ in range(10):
        predict(server, STUDENT)
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: len(server.worker_pids()) >= 2 and victim not in server.worker_pids(),
        20, "the killed worker replaced", server.log,
    )  # fmt: skip
    server.wait_ready()
    post = 'studypredict_requests_total{endpoint="/predictdata",method="POST",status="200"}'
    assert scrape(server)[post] == 10
    version_lines = [k for k in scrape(server) if k.startswith("studypredict_model_info")]
    assert len(version_lines) == 1, version_lines


def test_metrics_are_prometheus_text_with_help_lines(store, start_server):
    server = start_server(store.root)
    _, _, body = request(server.url + "/metrics")
    text = body.decode()
    assert re.search(r"^# HELP studypredict_students_scored_total ", text, re.M)
    assert re.search(r"^# TYPE studypredict_request_duration_seconds histogram", text, re.M)


def test_a_worker_file_not_yet_sized_does_not_fail_the_scrape(store, start_server, tmp_path):
    # A worker creates its file at 0 bytes, then sizes it; one killed in between leaves
    # it so for good. The scrape must still add up the other workers' samples.
    folder = tmp_path / "metrics"
    folder.mkdir()
    server = start_server(store.root, PROMETHEUS_MULTIPROC_DIR=str(folder))
    assert predict(server, STUDENT)[0] == 200
    (folder / "counter_4194999.db").touch()
    post = 'studypredict_requests_total{endpoint="/predictdata",method="POST",status="200"}'
    assert scrape(server)[post] == 1
