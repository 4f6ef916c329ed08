"""`make serve` (the Procfile's command) with its port taken: one line that says
so and how to set PORT, instead of Gunicorn's five retries."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from benchmarks.launcher import REPO, procfile_web_command
from tests.support.servers import VENV, free_port


def server_environment(store_dir: Path, port: int) -> dict[str, str]:
    """The Procfile command's environment, as Elastic Beanstalk runs it (not the
    launcher's, which hands Gunicorn a bound socket)."""
    path = f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "MODEL_STORE_DIR": str(store_dir), "PORT": str(port)}


def test_a_taken_port_is_one_line_naming_port(store):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        finished = subprocess.run(
            procfile_web_command(), cwd=REPO, env=server_environment(store.root, port),
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert finished.returncode != 0
    output = finished.stdout + finished.stderr
    ours = [line for line in output.splitlines() if "PORT" in line]
    assert ours == [
        f"studypredict: cannot serve: port {port} on 127.0.0.1 is already in use (another "
        f"server?); set PORT to a free one, e.g. PORT={port + 1} make serve"
    ]
    assert "Connection in use" not in output
    assert "Retrying" not in output


def test_the_check_follows_the_address_gunicorn_binds(store, tmp_path):
    """A launcher's own --bind wins over PORT: a taken PORT does not stop it."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        port = free_port()
        log = open(tmp_path / "server.log", "wb")
        process = subprocess.Popen(
            [*procfile_web_command(), "--bind", f"127.0.0.1:{port}"], cwd=REPO,
            env=server_environment(store.root, taken), stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while (
                f"Listening at: http://127.0.0.1:{port}"
                not in (tmp_path / "server.log").read_text()
            ):
                assert process.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=35)
            log.close()
