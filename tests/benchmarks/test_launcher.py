"""The launcher tests and benchmarks share: start as the Procfile says, probe, stop everything."""

from __future__ import annotations

import socket
import time

import psutil
import pytest

from benchmarks.launcher import SERVE_VENV, ServerError, http, procfile_web_command, running

pytestmark = pytest.mark.skipif(
    not (SERVE_VENV / "bin" / "gunicorn").exists(), reason="no serving venv: run make install"
)


def test_the_web_command_is_the_procfile_web_line(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("worker: python -m jobs\nweb: gunicorn --config 'my conf.py'\n")
    assert procfile_web_command(procfile) == ["gunicorn", "--config", "my conf.py"]
    procfile.write_text("worker: python -m jobs\n")
    with pytest.raises(ServerError, match="no 'web:' line"):
        procfile_web_command(procfile)


def test_the_server_is_ready_on_its_own_port_then_stopped_with_all_its_workers(tmp_path):
    with running(tmp_path / "server.log", venv=SERVE_VENV) as server:
        assert server.wait_ready() > 0
        workers = server.worker_pids()
        assert workers and server.cpu_seconds() > 0
        assert all(m["rss"] >= m["pss"] > 0 for m in server.memory().values())
        assert http(server.url + "/ready")[0] == 200
        # The port was bound before Gunicorn started, and handed to it: nobody else's.
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", server.port))
    assert server.process.returncode is not None
    assert not [pid for pid in workers if psutil.pid_exists(pid)]
    assert f"Listening at: {server.url} ({server.process.pid})" in server.log()


def test_two_servers_started_at_once_each_answer_on_their_own_port(tmp_path):
    with (
        running(tmp_path / "a.log", venv=SERVE_VENV) as first,
        running(tmp_path / "b.log", venv=SERVE_VENV) as second,
    ):
        first.wait_ready(), second.wait_ready()
        assert first.port != second.port
        assert "Listening at" in first.log() and "Listening at" in second.log()


def test_a_server_that_cannot_start_fails_at_once_with_its_log(tmp_path):
    empty_store = tmp_path / "store"
    empty_store.mkdir()
    env = {"MODEL_STORE_DIR": str(empty_store)}
    with running(tmp_path / "broken.log", env, venv=SERVE_VENV) as server:
        with pytest.raises(ServerError, match="exited with code") as raised:
            server.wait_ready()
    assert "cannot serve" in str(raised.value)  # the tail of its log
    assert time.perf_counter() - server.started_at < 30  # not the whole start timeout
