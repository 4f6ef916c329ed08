"""The server under test, started exactly as the Procfile's web line says.

PATH has the serving environment's bin first (where Gunicorn is), PORT a free
loopback port; everything else comes from the caller's environment, so
WEB_CONCURRENCY, MODEL_STORE_DIR and the like apply as in production.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVE_BIN = REPO / ".venv-serve" / "bin"
READY_PATH = "/ready"
READY_TIMEOUT_S = 60.0
# Gunicorn's graceful stop should take well under a second; past this the
# whole process group is killed (a benchmark server holds nothing to save).
STOP_GRACE_S = 5.0


class ServerError(Exception):
    """The server could not be started; the message says why."""


def web_command(procfile: Path = REPO / "Procfile") -> list[str]:
    for line in procfile.read_text().splitlines():
        process, colon, command = line.partition(":")
        if colon and process.strip() == "web":
            return shlex.split(command)
    raise ServerError(f"{procfile} has no 'web:' line")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def procfile_server(log_path: Path) -> Iterator[str]:
    """Start the web process, wait until /ready answers 200, yield its URL; always stop it."""
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    env["PATH"] = f"{SERVE_BIN}{os.pathsep}{env.get('PATH', '')}"
    with log_path.open("wb") as log:
        # A session of its own: Ctrl-C in the terminal reaches us, not it, and
        # stopping its process group reaches its workers too.
        process = subprocess.Popen(
            web_command(),
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
        yield url
    finally:
        _stop(process)


def _wait_ready(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"the server exited with code {process.returncode} at start; "
                f"its log ({log_path}) ends:\n{_tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(url + READY_PATH, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or 503 while the model loads
        time.sleep(0.1)
    raise ServerError(f"{url}{READY_PATH} was not ready within {READY_TIMEOUT_S:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the master, then SIGKILL its whole group if anything is left."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # workers that outlived their master
    except ProcessLookupError:
        pass
    process.wait()


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
