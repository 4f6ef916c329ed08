"""A soak run: mixed traffic for SOAK_SECONDS (default 60) at the rate the machine
sustains, against the real Gunicorn. Every answer is checked (each prediction
against onnxruntime run here on the same students), and the workers' memory
must level off. Run it with `make soak` or `pytest -m soak tests/reliability`."""

from __future__ import annotations

import os
import threading
import time

import psutil
import pytest

from tests.support.traffic import Clients
from tests.support.workload import Oracle, Workload

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
CLIENT_THREADS = 6
MAX_RSS_GROWTH = 0.05  # from the 10th second to the end


def rss_kib(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss // 1024


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


class MemorySampler:
    """VmRSS of the given processes, once a second, in a thread of its own."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.samples: list[tuple[float, dict[int, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append((time.monotonic(), {pid: rss_kib(pid) for pid in self.pids}))

    def __enter__(self) -> MemorySampler:
        self.samples.append((time.monotonic(), {pid: rss_kib(pid) for pid in self.pids}))
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def at(self, moment: float) -> dict[int, int]:
        """The first sample taken at or after `moment`."""
        return next(rss for taken, rss in self.samples if taken >= moment)


@pytest.mark.soak
def test_soak_mixed_traffic_answers_right_and_memory_levels_off(store, start_server):
    server = start_server(store.root)
    workers = sorted(server.worker_pids())
    workload = Workload([Oracle(store, store.current_version())], bulk_rows=100)
    baseline_after = min(10.0, SECONDS / 3)
    cpu_before = {pid: cpu_seconds(pid) for pid in workers}
    client_cpu_before = time.process_time()
    with MemorySampler(workers) as memory:
        started = time.monotonic()
        with Clients(
            server.port,
            workload.next_call,
            workload.judge,
            threads=CLIENT_THREADS,
            max_seconds=SECONDS + 30,
        ) as clients:
            time.sleep(SECONDS)
        elapsed = time.monotonic() - started
    busy = {pid: (cpu_seconds(pid) - cpu_before[pid]) / elapsed for pid in workers}
    client_busy = (time.process_time() - client_cpu_before) / elapsed
    records = clients.records
    wrong = clients.problems()
    students = sum(workload.rows(r.call) for r in records if r.answer.status == 200)
    invalid = sum(r.call.expected.status != 200 for r in records)
    baseline, final = memory.at(started + baseline_after), memory.samples[-1][1]
    growth = {pid: final[pid] / baseline[pid] - 1 for pid in workers}
    print(
        f"\nsoak: {len(records)} requests in {elapsed:.1f} s ({len(records) / elapsed:.0f}/s, "
        f"{CLIENT_THREADS} client threads), {students} students scored and checked against "
        f"onnxruntime, {invalid} invalid requests refused as expected, {len(wrong)} wrong; "
        f"the clients kept {client_busy:.0%} of a core busy ({os.cpu_count()} cores)"
    )
    for pid in workers:
        print(
            f"worker {pid}: VmRSS {baseline[pid] / 1024:.1f} MiB at {baseline_after:.0f} s, "
            f"{final[pid] / 1024:.1f} MiB at the end: {growth[pid]:+.2%}; "
            f"busy {busy[pid]:.0%} of one core"
        )
    assert wrong == [], wrong[:10]
    assert sorted(server.worker_pids()) == workers  # no worker died or was replaced
    assert all(g < MAX_RSS_GROWTH for g in growth.values()), growth
