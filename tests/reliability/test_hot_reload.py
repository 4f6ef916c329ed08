"""SIGHUP after promoting a version, under load, against the real Gunicorn.

The second version is the committed graph with its output shifted by 7 points,
so every answer's numbers say which version computed them.
"""

from __future__ import annotations

import os
import signal
import time

from tests.reliability.traffic import Clients, exchange, request_head
from tests.reliability.watch import wait_for
from tests.reliability.workload import Oracle, Workload, publish_shifted

SHIFT = 7.0


def served_by(server) -> tuple[str, str]:
    """The version /ready and /model each say is served."""
    ready = exchange(server.port, request_head("GET", "/ready", {}))
    model = exchange(server.port, request_head("GET", "/model", {}))
    assert (ready.status, model.status) == (200, 200)
    return ready.json()["model_version"], model.json()["version"]


def served_versions(records) -> list[str]:
    return [r.answer.headers.get("x-model-version") for r in records if r.answer.status == 200]


def test_sighup_after_promote_switches_without_a_failed_or_mixed_answer(store, serve):
    old = store.current_version()
    new = publish_shifted(store, SHIFT)
    workload = Workload([Oracle(store, old), Oracle(store, new)], bulk_rows=200, invalid=False)
    server = serve(store.root)
    with Clients(
        server.port, workload.next_call, workload.judge, threads=4, max_seconds=60
    ) as clients:
        time.sleep(1.0)
        store.promote(new)
        hup_at = time.monotonic()
        server.process.send_signal(signal.SIGHUP)

        def only_new_for_a_while():
            recent = served_versions(clients.since(hup_at))[-40:]
            return len(recent) == 40 and set(recent) == {new}

        wait_for(only_new_for_a_while, 30, f"only {new} served", server.log)
        switched_at = time.monotonic()
        time.sleep(1.0)
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


def test_sighup_refuses_a_promoted_version_altered_on_disk_and_the_old_one_serves(store, serve):
    old = store.current_version()
    new = publish_shifted(store, SHIFT)
    workload = Workload([Oracle(store, old)], invalid=False)
    server = serve(store.root)
    store.promote(new)  # verified and promoted while intact ...
    model_file = store.root / "versions" / new / "model.onnx"
    altered = bytearray(model_file.read_bytes())
    altered[len(altered) // 2] ^= 0x01
    os.chmod(model_file, 0o644)
    model_file.write_bytes(bytes(altered))  # ... then altered on disk before the reload
    with Clients(
        server.port, workload.next_call, workload.judge, threads=3, max_seconds=40
    ) as clients:
        time.sleep(0.5)
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in server.log(), 30, "the reload refused", server.log)
        time.sleep(2.0)  # the workers forked by the reload are serving by now
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
