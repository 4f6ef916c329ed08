"""The launcher both benchmarks share: start as the Procfile says, probe, stop everything."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.procfile_server import (
    SERVE_VENV,
    ServerError,
    get_status,
    gunicorn,
    procfile_web_command,
    wait_until_ready,
)

pytestmark = pytest.mark.skipif(
    not (SERVE_VENV / "bin" / "gunicorn").exists(), reason="no serving venv: run make install"
)


def gone(pids: list[int], within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_web_command_is_the_procfile_web_line(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("worker: python -m jobs\nweb: gunicorn --config 'my conf.py'\n")
    assert procfile_web_command(procfile) == ["gunicorn", "--config", "my conf.py"]
    procfile.write_text("worker: python -m jobs\n")
    with pytest.raises(ServerError, match="no 'web:' line"):
        procfile_web_command(procfile)


def test_the_server_is_ready_then_stopped_with_all_its_workers(tmp_path):
    with gunicorn("server", SERVE_VENV, tmp_path) as server:
        assert wait_until_ready(server) > 0
        workers = server.worker_pids()
        assert workers
        assert get_status(server.url + "/ready") == 200
    assert server.process.returncode is not None
    assert gone(workers)
    assert "serving model version" in (tmp_path / "server.log").read_text()


def test_a_server_that_cannot_start_fails_at_once_with_its_log(tmp_path):
    empty_store = tmp_path / "store"
    empty_store.mkdir()
    env = {"MODEL_STORE_DIR": str(empty_store)}
    with gunicorn("broken", SERVE_VENV, tmp_path, env=env) as server:
        with pytest.raises(ServerError, match="exited with code") as raised:
            wait_until_ready(server)
    assert "cannot serve" in str(raised.value)  # the tail of broken.log
    assert time.perf_counter() - server.started_at < 30  # not the whole start timeout
