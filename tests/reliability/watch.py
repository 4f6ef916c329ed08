"""Watching a running server from outside: its log, its worker processes, their memory."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout: float, what: str, log: Callable[[], str]):
    """Poll `condition` until it is truthy (and return it), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not after {timeout} s\n{log()[-3000:]}")


def new_worker_serving(server, old_pids: set[int], timeout: float = 20.0) -> int:
    """The pid of a worker not in `old_pids` once it has loaded its model (it logs so)."""

    def booted():
        for pid in set(server.worker_pids()) - old_pids:
            if f"worker {pid} serving model version" in server.log():
                return pid
        return None

    return wait_for(booted, timeout, "a replacement worker serving", server.log)


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc (VmRSS, in KiB)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listens_itself(server, timeout: float = 10.0) -> bool:
    """Whether the server's own master says it listens on its port.

    Another suite running at the same time can take a free port between its
    choice and Gunicorn's bind, and a readiness check would then pass against
    that other server: ours logs that it listens, with its pid.
    """
    line = f"Listening at: {server.url} ({server.process.pid})"
    deadline = time.monotonic() + timeout
    while server.process.poll() is None and time.monotonic() < deadline:
        if line in server.log():
            return True
        time.sleep(0.05)
    return False
