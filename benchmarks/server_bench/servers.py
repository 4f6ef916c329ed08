"""Starting and stopping Gunicorn exactly as the Procfile's web line does.

Every server here runs `gunicorn --config server/gunicorn_conf.py` as the
Procfile says, with its virtual environment's bin first on PATH and PORT on a
free loopback port. The floor and reference apps are the same command plus a
positional app, which Gunicorn takes over the config file's `wsgi_app`.
"""

from __future__ import annotations

import logging
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
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
logger = logging.getLogger(__name__)

PREDICT_PATH = "/predictdata"
POLL_SECONDS = 0.02
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class ServerError(Exception):
    pass


def procfile_web_command(repo: Path = REPO) -> list[str]:
    for line in (repo / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if kind.strip() == "web":
            return shlex.split(command)
    raise ServerError(f"{repo / 'Procfile'} has no web line")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, body: bytes, content_type: str, timeout: float = 60.0) -> tuple[int, bytes]:
    """(status, body) of one POST; an HTTP error status is an answer too."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    url: str
    log_path: Path
    started_at: float  # time.perf_counter() just before launching

    def worker_pids(self) -> list[int]:
        """The master's child processes: its workers."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            # The command name may hold spaces: the parent pid follows its closing ")".
            if int(stat.rpartition(")")[2].split()[1]) == self.process.pid:
                children.append(int(entry.name))
        return sorted(children)

    def wait_idle(self, quiet: float = 0.1, timeout: float = 60.0) -> None:
        """Return once the workers use no CPU for `quiet` seconds.

        A client that gives up (wrk at the end of a run) leaves a slow request
        running; the next cell must not share the CPU with it.
        """
        clock_ticks = os.sysconf("SC_CLK_TCK")
        deadline = time.monotonic() + timeout
        before = self.cpu_ticks()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.cpu_ticks()
            if now - before <= clock_ticks * quiet / 10:  # under 10% of one core
                return
            before = now
        raise ServerError(f"{self.name} still busy {timeout:.0f} s after its load stopped")

    def cpu_ticks(self) -> int:
        """CPU time the workers have used so far, in clock ticks."""
        total = 0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def wait_until_serving(server: Server, probe: bytes, content_type: str) -> float:
    """Poll POST /predictdata every 20 ms until a 200; seconds since launch."""
    deadline = server.started_at + START_TIMEOUT
    while time.perf_counter() < deadline:
        if server.process.poll() is not None:
            raise ServerError(f"{server.name} exited at start:\n{server.log_tail()}")
        try:
            status, _ = post(server.url + PREDICT_PATH, probe, content_type, timeout=5)
        except OSError:
            status = None  # not listening yet
        if status == 200:
            return time.perf_counter() - server.started_at
        time.sleep(POLL_SECONDS)
    raise ServerError(
        f"{server.name} gave no 200 within {START_TIMEOUT:.0f} s:\n{server.log_tail()}"
    )


@contextmanager
def gunicorn(
    name: str,
    venv: Path,
    log_dir: Path,
    app: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Launch the Procfile's web command (plus `app` if given); always stopped on exit."""
    port = free_port()
    command = procfile_web_command() + ([app] if app else [])
    environment = {**os.environ, **(env or {}), "PORT": str(port)}
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        started_at = time.perf_counter()
        # Its own session, so stopping it cannot signal us and we can reap its workers.
        process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = Server(name, process, f"http://127.0.0.1:{port}", log_path, started_at)
    try:
        yield server
    finally:
        stop(server)


def stop(server: Server) -> None:
    """SIGTERM the master (Gunicorn stops its workers), then SIGKILL its group if it hangs."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
            logger.warning("%s ignored SIGTERM for %.0f s; killed:\n%s",
                           server.name, STOP_TIMEOUT, server.log_tail())  # fmt: skip
