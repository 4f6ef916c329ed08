"""Faults of the serving processes, under load, against the real Gunicorn: a worker
killed, the server told to stop, a client that never finishes sending its body."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from tests.support.models import STUDENT
from tests.support.servers import connections_held, new_worker_serving, wait_for
from tests.support.traffic import PARTIAL, REFUSED, RESET, Answer, Clients, exchange, post_head
from tests.support.workload import Oracle, Workload

GRACEFUL_TIMEOUT = 30  # server/gunicorn_conf.py
STUCK_TIMEOUT = 3  # GUNICORN_TIMEOUT for the slow-client tests


def workload_for(store, **options) -> Workload:
    return Workload([Oracle(store, store.current_version())], **options)


def student_request() -> tuple[bytes, list[bytes]]:
    """(head, [body]) of one valid single-student request."""
    body = json.dumps(STUDENT).encode()
    return post_head(len(body), "application/json"), [body]


def test_a_worker_killed_with_sigkill_is_replaced_and_then_every_request_succeeds(
    store, start_server
):
    server = start_server(store.root)
    workload = workload_for(store)
    with Clients(
        server.port, workload.next_call, workload.judge, threads=4, max_seconds=40
    ) as clients:
        wait_for(lambda: len(clients.records) >= 20, 30, "answers before", server.log)
        old = set(server.worker_pids())
        victim = min(old)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        new_worker_serving(server, old)
        back_at = time.monotonic()
        wait_for(lambda: len(clients.since(back_at)) >= 20, 30, "answers after", server.log)
    failed = clients.problems()
    between = [
        r for r in clients.records if r.answer.finished >= killed_at and r.answer.started < back_at
    ]
    after = clients.since(back_at)
    print(
        f"\nSIGKILL of worker {victim} under load: {len(failed)} request(s) failed "
        f"of {len(between)} in flight or sent while it was being replaced "
        f"({back_at - killed_at:.2f} s); {len(after)} sent after, all answered right: {failed}"
    )
    assert "was sent SIGKILL" in server.log()
    assert len(failed) <= 1  # at most the one request the killed worker was handling
    assert len(after) >= 20
    assert clients.problems(after) == []


def test_sigterm_under_load_finishes_accepted_requests_then_exits(store, start_server):
    server = start_server(store.root)
    workload = workload_for(store, invalid=False)
    head, (body,) = student_request()
    # A request a worker has taken and is still reading when SIGTERM comes: its
    # body arrives in 20 parts over 2 s.
    parts = [body[i : i + len(body) // 20 + 1] for i in range(0, len(body), len(body) // 20 + 1)]
    slow: list[Answer] = []
    half_sent = threading.Event()

    def sent_then_signal():
        for number, part in enumerate(parts):
            if number == len(parts) // 2:
                half_sent.set()
            yield part

    sender = threading.Thread(
        target=lambda: slow.append(
            exchange(server.port, head, sent_then_signal(), pause=0.1, timeout=40)
        )
    )
    with Clients(
        server.port, workload.next_call, workload.judge, threads=3, max_seconds=45
    ) as clients:
        sender.start()
        wait_for(half_sent.is_set, 10, "half the slow body sent")  # SIGTERM comes mid-way
        term_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=GRACEFUL_TIMEOUT + 5)
        took = time.monotonic() - term_at
    sender.join(timeout=10)
    records = clients.records
    completed = [r for r in records if r.answer.finished >= term_at and not r.answer.failure]
    cut_off = [r for r in records if r.answer.failure == PARTIAL]
    reset = [r for r in records if r.answer.failure == RESET]
    refused = [r for r in records if r.answer.failure == REFUSED]
    print(
        f"\nSIGTERM under load: exit {code} after {took:.2f} s; {len(completed) + 1} request(s) "
        f"completed during the shutdown (the slow one included); {len(cut_off)} cut off; "
        f"{len(reset)} connection(s) reset before any answer, never taken by a worker "
        f"({sum(r.answer.started < term_at for r in reset)} queued before the signal, the rest "
        f"connected during the shutdown); {len(refused)} refused once it had exited"
    )
    assert code == 0
    assert took < GRACEFUL_TIMEOUT
    assert slow and slow[0].status == 200, slow
    assert slow[0].started < term_at < slow[0].finished
    assert cut_off == []
    answered = [r for r in records if r.answer.failure not in (RESET, REFUSED)]
    assert clients.problems(answered) == []
    assert "SIGKILL" not in server.log()  # no worker had to be killed at the deadline


def test_sigterm_when_idle_exits_within_seconds(store, start_server):
    server = start_server(store.root)
    term_at = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.process.wait(timeout=GRACEFUL_TIMEOUT + 5)
    took = time.monotonic() - term_at
    print(f"\nSIGTERM when idle: exit {code} after {took:.2f} s")
    assert code == 0
    assert took < 5


@pytest.mark.parametrize("pace", ["stalls", "trickles"])
def test_a_client_that_never_finishes_its_body_frees_its_worker_within_the_timeout(
    store, start_server, pace
):
    server = start_server(store.root, GUNICORN_TIMEOUT=str(STUCK_TIMEOUT))
    old = set(server.worker_pids())
    head, (body,) = student_request()
    if pace == "stalls":  # ten bytes, then nothing for a minute
        parts, pause = [body[:10], body[10:]], 60.0
    else:  # a byte every quarter second: the body would take ~40 s
        parts, pause = [body[i : i + 1] for i in range(len(body))], 0.25
    stuck: list[Answer] = []
    sender = threading.Thread(
        target=lambda: stuck.append(exchange(server.port, head, parts, pause=pause, timeout=30))
    )
    sender.start()
    wait_for(lambda: connections_held(server), 10, "a worker taking the request", server.log)
    served, slowest = 0, 0.0
    deadline = time.monotonic() + STUCK_TIMEOUT + 3
    # Until the stuck request is cut off (or the deadline): meanwhile the other worker answers.
    while sender.is_alive() and time.monotonic() < deadline:
        answer = exchange(server.port, *student_request(), timeout=5)
        assert answer.status == 200, answer
        served, slowest = served + 1, max(slowest, answer.finished - answer.started)
    sender.join(timeout=30)
    freed_after = stuck[0].finished - stuck[0].started
    replacement = new_worker_serving(server, old)
    print(
        f"\nstuck client ({pace}): its worker freed after {freed_after:.2f} s with "
        f"{stuck[0].status or stuck[0].failure}; {served} requests served meanwhile "
        f"(slowest {slowest:.3f} s); replaced by worker {replacement}"
    )
    assert stuck[0].status != 200
    assert freed_after < STUCK_TIMEOUT + 4  # the master checks its workers about once a second
    assert "WORKER TIMEOUT" in server.log()
    assert served >= 10 and slowest < 2.0
    assert len(server.worker_pids()) == 2
    for _ in range(10):
        assert exchange(server.port, *student_request()).status == 200
