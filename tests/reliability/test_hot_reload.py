"""SIGHUP after promoting a version, under load, against the real Gunicorn.

The second version is the committed graph with its output shifted by 7 points,
so every answer's numbers say which version computed them.
"""

from __future__ import annotations

import os
import signal
import time

from tests.support.servers import new_worker_serving, wait_for
from tests.support.traffic import Clients, exchange, request_head
from tests.support.workload import Oracle, Workload, publish_shifted

SHIFT = 7.0


def served_by(server) -> tuple[str, str]:
    """The version /ready and /model each say is served."""
    ready = exchange(server.port, request_head("GET", "/ready", {}))
    model = exchange(server.port, request_head("GET", "/model", {}))
    assert (ready.status, model.status) == (200, 200)
    return ready.json()["model_version"], model.json()["version"]


def served_versions(records) -> list[str]:
    return [r.answer.headers.get("x-model-version") for r in records if r.answer.status == 200]


def test_sighup_after_promote_switches_without_a_failed_or_mixed_answer(store, start_server):
    old = store.current_version()
    new = publish_shifted(store, SHIFT)
    workload = Workload([Oracle(store, old), Oracle(store, new)], bulk_rows=200, invalid=False)
    server = start_server(store.root)
    with Clients(
        server.port, workload.next_call, workload.judge, threads=4, max_seconds=60
    ) as clients:
        wait_for(lambda: len(clients.records) >= 40, 30, "answers from the old version", server.log)
        store.promote(new)
        hup_at = time.monotonic()
        server.process.send_signal(signal.SIGHUP)

        def only_new_for_a_while():
            recent = served_versions(clients.since(hup_at))[-40:]
            return len(recent) == 40 and set(recent) == {new}

        wait_for(only_new_for_a_while, 30, f"only {new} served", server.log)
        switched_at = time.monotonic()
        wait_for(lambda: len(clients.since(switched_at)) >= 40, 30, "answers after", server.log)
    records = clients.records
    wrong = clients.problems()
    versions = served_versions(records)
    students = sum(workload.rows(r.call) for r in records)
    print(
        f"\nSIGHUP under load: {len(records)} requests ({students} students), "
        f"{versions.count(old)} answered by {old}, {versions.count(new)} by {new}; "
        f"switched within {switched_at - hup_at:.2f} s; {len(wrong)} failed or mislabelled"
    )
    assert wrong == []
    assert set(versions) == {old, new}
    assert set(served_versions(clients.since(switched_at))) == {new}
    assert served_by(server) == (new, new)


def test_sighup_refuses_a_promoted_version_altered_on_disk_and_the_old_one_serves(
    store, start_server
):
    old = store.current_version()
    new = publish_shifted(store, SHIFT)
    workload = Workload([Oracle(store, old)], invalid=False)
    server = start_server(store.root)
    old_workers = set(server.worker_pids())
    store.promote(new)  # verified and promoted while intact ...
    model_file = store.root / "versions" / new / "model.onnx"
    altered = bytearray(model_file.read_bytes())
    altered[len(altered) // 2] ^= 0x01
    os.chmod(model_file, 0o644)
    model_file.write_bytes(bytes(altered))  # ... then altered on disk before the reload
    with Clients(
        server.port, workload.next_call, workload.judge, threads=3, max_seconds=40
    ) as clients:
        wait_for(lambda: len(clients.records) >= 20, 30, "answers before", server.log)
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in server.log(), 30, "the reload refused", server.log)
        # The reload still replaces the workers: the new ones must serve the old version.
        new_worker_serving(server, old_workers)
        wait_for(
            lambda: not set(server.worker_pids()) & old_workers, 30, "workers replaced", server.log
        )
        replaced_at = time.monotonic()
        wait_for(lambda: len(clients.since(replaced_at)) >= 20, 30, "answers after", server.log)
    refusals = [line for line in server.log().splitlines() if "reload refused" in line]
    wrong = clients.problems()
    print(f"\nrefused reload: {len(clients.records)} requests, {len(wrong)} wrong; log: {refusals}")
    assert len(refusals) == 1
    assert f"still serving {old}" in refusals[0] and "SHA-256" in refusals[0]
    assert wrong == []
    assert set(served_versions(clients.records)) == {old}
    assert served_by(server) == (old, old)
    assert (
        store.root / "CURRENT"
    ).read_text().strip() == new  # the pointer is not the server's to change
