"""The server under test, started exactly as the Procfile's web line says.

Both benchmarks (`make bench`, `make release-bench`) start their servers here,
so what they measure is started, probed and stopped the same way. The command
is the Procfile's (`gunicorn --config server/gunicorn_conf.py`), plus a
positional app for the floor and reference apps, which Gunicorn takes over the
config file's `wsgi_app`. PATH has the given virtual environment's bin first
(where Gunicorn is) and PORT is a free loopback port; everything else comes
from the caller's environment, so WEB_CONCURRENCY, MODEL_STORE_DIR and the
like apply as in production.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVE_VENV = REPO / ".venv-serve"  # requirements.txt only, as Elastic Beanstalk installs it
PREDICT_PATH = "/predictdata"
READY_PATH = "/ready"
START_TIMEOUT_S = 60.0
POLL_S = 0.02  # fine enough to time a cold start to the first answer
# Gunicorn's graceful stop of idle workers takes well under a second; past this
# the whole process group is killed (a benchmark server holds nothing to save).
STOP_GRACE_S = 5.0

logger = logging.getLogger(__name__)


class ServerError(Exception):
    """The server did not start, serve or settle; the message says why."""


def procfile_web_command(procfile: Path = REPO / "Procfile") -> list[str]:
    for line in procfile.read_text().splitlines():
        process, colon, command = line.partition(":")
        if colon and process.strip() == "web":
            return shlex.split(command)
    raise ServerError(f"{procfile} has no 'web:' line")


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


def get_status(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code  # 503 from /ready while the model loads


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

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_200(self, status_of_probe: Callable[[], int], probe: str) -> float:
        """Poll until the probe answers 200; seconds since launch. Fails fast if it exits."""
        deadline = self.started_at + START_TIMEOUT_S
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with code {self.process.returncode} at start; "
                    f"its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            try:
                if status_of_probe() == 200:
                    return time.perf_counter() - self.started_at
            except OSError:
                pass  # not listening yet
            time.sleep(POLL_S)
        raise ServerError(
            f"{self.name}: {probe} gave no 200 within {START_TIMEOUT_S:.0f} s; "
            f"its log ({self.log_path}) ends:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM the master (Gunicorn stops its workers), then SIGKILL its whole group."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s ignored SIGTERM for %.0f s; killing it:\n%s",
                    self.name,
                    STOP_GRACE_S,
                    self.log_tail(),
                )
        # Even after a clean exit: workers that outlived a master which hung or
        # died must not keep loading the machine under the next measurement.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the group is empty: the usual case
        self.process.wait()


@contextmanager
def gunicorn(
    name: str,
    venv: Path,
    log_dir: Path,
    app: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Launch the Procfile's web command (plus `app` if given), logging to log_dir/<name>.log.

    Yields as soon as it is launched: callers wait with the probe that suits them
    (wait_until_ready or wait_until_serving). Always stopped on exit.
    """
    port = free_port()
    command = procfile_web_command() + ([app] if app else [])
    environment = {**os.environ, **(env or {}), "PORT": str(port)}
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        started_at = time.perf_counter()
        # A session of its own: Ctrl-C in the terminal reaches us, not it, and
        # stopping its process group reaches its workers too.
        process = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = Server(name, process, f"http://127.0.0.1:{port}", log_path, started_at)
    try:
        yield server
    finally:
        server.stop()


def wait_until_ready(server: Server) -> float:
    """Poll GET /ready (200 once a worker has loaded the model); seconds since launch."""
    url = server.url + READY_PATH
    return server.wait_for_200(lambda: get_status(url), f"GET {READY_PATH}")


def wait_until_serving(server: Server, probe: bytes, content_type: str) -> float:
    """Poll POST /predictdata with `probe` until a 200; seconds since launch.

    The floor and reference apps have no /ready, and a cold start is timed to
    the first real answer.
    """
    url = server.url + PREDICT_PATH

    def status() -> int:
        return post(url, probe, content_type, timeout=5)[0]

    return server.wait_for_200(status, f"POST {PREDICT_PATH}")
