"""The real server for tests: the shared launcher, run from this test's virtual environment."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from benchmarks.launcher import Server, launch
from tests.support.models import copy_committed_store

# The running interpreter's venv: its bin goes first on PATH, as an activated
# environment on Elastic Beanstalk has it.
VENV = Path(sys.executable).parent.parent


def start(store_dir: Path, log_path: Path, **env: str) -> Server:
    """The Procfile's server on `store_dir`; returns at once (call wait_ready) and the
    caller stops it."""
    return launch(log_path, {"MODEL_STORE_DIR": str(store_dir), **env}, venv=VENV)


@contextmanager
def watched_committed_server(folder: Path) -> Iterator[Server]:
    """The server on a copy of the committed store in `folder`, ready, its first
    workers' pids kept as `initial_workers`: a worker a request crashed shows as a
    new pid. Stopped on leaving the block."""
    running = start(copy_committed_store(folder / "store").root, folder / "server.log")
    try:
        running.wait_ready()
        running.initial_workers = running.worker_pids()
        yield running
    finally:
        running.stop()


def free_port() -> int:
    """A loopback port nothing listens on now (for clients that must be refused, or nginx)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    condition: Callable[[], object], timeout: float, what: str, log: Callable[[], str] = str
):
    """Poll `condition` until it is truthy (and return that), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not after {timeout} s\n{log()[-3000:]}")


def new_worker_serving(server: Server, old_pids: set[int], timeout: float = 20.0) -> int:
    """The pid of a worker not in `old_pids` once it has loaded its model (it logs so)."""

    def booted() -> int | None:
        log = server.log()
        fresh = set(server.worker_pids()) - old_pids
        return next((pid for pid in fresh if f"worker {pid} serving model version" in log), None)

    return wait_for(booted, timeout, "a replacement worker serving", server.log)


def connections_held(server: Server) -> int:
    """Client connections the workers hold open now (a sync worker holds one at most)."""
    held = 0
    for pid in server.worker_pids():
        try:
            connections = psutil.Process(pid).net_connections("tcp")
        except psutil.NoSuchProcess:
            continue
        held += sum(c.status == psutil.CONN_ESTABLISHED for c in connections)
    return held
