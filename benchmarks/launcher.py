"""The one way tests and benchmarks start the server: the Procfile's `web:` command,
plus `--bind fd://N` on a loopback socket bound here, so no other process can take the
port in between; and, as Elastic Beanstalk runs it, nginx with our files in front.
Standard library and psutil only: the serving venv's tests import it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
SERVE_VENV = REPO / ".venv-serve"  # requirements.txt only, as Elastic Beanstalk installs it
PREDICT_PATH = "/predictdata"
# Debian puts it in /usr/sbin, which a non-root PATH may lack.
NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}{os.pathsep}/usr/sbin")
NGINX_CONF = REPO / "benchmarks" / "nginx.conf"  # the platform's nginx.conf in brief, a template
# Our .platform/nginx files, as copied for a launch: file -> (our text, the launch's). The
# per-client rate would refuse one load generator after 100 requests (the limiter still runs).
NGINX_EDITS = {
    "elasticbeanstalk/00_application.conf": ("http://127.0.0.1:8000;", "http://127.0.0.1:{port};"),
    "studypredict-edge.conf": ("rate=50r/s", "rate=1000000r/s"),
}


class ServerError(Exception):
    """The server did not start, serve or settle; the message says why."""


def procfile_web_command(procfile: Path = REPO / "Procfile") -> list[str]:
    for line in procfile.read_text().splitlines():
        process, colon, command = line.partition(":")
        if colon and process.strip() == "web":
            return shlex.split(command)
    raise ServerError(f"{procfile} has no 'web:' line")


def http(url: str, body: bytes | None = None, content_type: str = "application/json",
         timeout: float = 60.0) -> tuple[int, bytes]:  # fmt: skip
    """(status, body) of one GET (no body) or POST; an error status is an answer too."""
    request = urllib.request.Request(url, body, {"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path
    started_at: float  # time.perf_counter() just before the launch

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        with suppress(psutil.NoSuchProcess):
            return sorted(child.pid for child in psutil.Process(self.process.pid).children())
        return []

    def cpu_seconds(self) -> float:
        """User plus system CPU time the workers have used so far."""
        total = 0.0
        for pid in self.worker_pids():
            with suppress(psutil.NoSuchProcess):  # replaced meanwhile
                total += sum(psutil.Process(pid).cpu_times()[:2])
        return total

    def memory(self) -> dict[int, dict[str, int]]:
        """Per worker: RSS, and PSS (shared pages split among their users), in bytes."""
        infos = {pid: psutil.Process(pid).memory_full_info() for pid in self.worker_pids()}
        return {pid: {"rss": info.rss, "pss": info.pss} for pid, info in infos.items()}

    def wait_until(self, status: Callable[[], int], what: str, timeout: float) -> float:
        """Poll until `status()` is 200; seconds since the launch. Fails at once if it exits."""
        while time.perf_counter() < self.started_at + timeout:
            if self.process.poll() is not None:
                what = f"the server exited with code {self.process.returncode} at start, so {what}"
                break
            try:
                if status() == 200:
                    return time.perf_counter() - self.started_at
            except OSError:
                pass  # not accepting yet
            time.sleep(0.02)  # fine enough to time a cold start
        raise ServerError(f"{what} gave no 200 within {timeout:.0f} s; "
                          f"the log ({self.log_path}) ends:\n{self.log()[-3000:]}")  # fmt: skip

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Until GET /ready answers 200 (a worker has loaded the model)."""
        return self.wait_until(lambda: http(self.url + "/ready", timeout=5)[0], "/ready", timeout)

    def wait_serving(self, body: bytes, content_type: str, timeout: float = 60.0) -> float:
        """Until POST /predictdata answers 200 (apps without /ready; a cold start's end)."""
        url = self.url + PREDICT_PATH
        return self.wait_until(lambda: http(url, body, content_type, 5)[0], url, timeout)

    def wait_idle(self, quiet: float = 0.1, timeout: float = 60.0) -> None:
        """Until the workers use under 10 % of a core for `quiet` s: a request a client gave
        up on (wrk at the end of a run) must not share the CPU with the next measurement."""
        deadline, before = time.monotonic() + timeout, self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            if (now := self.cpu_seconds()) - before <= quiet / 10:
                return
            before = now
        raise ServerError(f"the server is still busy {timeout:.0f} s after its load stopped")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the master (Gunicorn stops its workers), then SIGKILL its whole group."""
        self.process.terminate()
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(grace)
        # Even after a clean exit: no worker of a master that died may stay behind (an
        # empty group, the usual case, is no longer there).
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def launch(log_path: Path, env: Mapping[str, str] | None = None, *, venv: Path | None = None,
           app: str | None = None, cwd: Path = REPO,
           base_env: Mapping[str, str] = os.environ) -> Server:  # fmt: skip
    """Start the Procfile's web command in `cwd` with `env` over `base_env` and `venv`'s bin
    first on PATH, logging to `log_path`; `app` replaces the config's `wsgi_app`. Returns at
    once: wait with `wait_ready` or `wait_serving`, and `stop` it."""
    command = procfile_web_command(cwd / "Procfile")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))  # bound, not listening: Gunicorn sets the backlog
        port, fd = listener.getsockname()[1], listener.fileno()
        environment = {**base_env, **(env or {}), "PORT": str(port)}
        if venv is not None:
            environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
        command += ["--bind", f"fd://{fd}", *([app] if app else [])]
        with log_path.open("wb") as log:
            started_at = time.perf_counter()
            # A session of its own: Ctrl-C reaches us, not it, and killing its process
            # group reaches its workers.
            process = subprocess.Popen(command, cwd=cwd, env=environment, stdout=log,
                                       stderr=subprocess.STDOUT, pass_fds=(fd,),
                                       start_new_session=True)  # fmt: skip
    return Server(process, port, log_path, started_at)


@contextmanager
def running(log_path: Path, env: Mapping[str, str] | None = None, **options) -> Iterator[Server]:
    """`launch`, stopped on leaving the block whatever happens."""
    server = launch(log_path, env, **options)
    try:
        yield server
    finally:
        server.stop()


def launch_nginx(upstream: Server, folder: Path) -> Server:
    """nginx on a free loopback port proxying to `upstream`, our .platform/nginx files in
    NGINX_CONF; stop it with `stop()`."""
    if NGINX is None:
        raise ServerError("nginx is not installed: apt-get install -y nginx")
    folder.mkdir(parents=True)
    shutil.copytree(REPO / ".platform" / "nginx" / "conf.d", folder / "conf.d")
    for name, (ours, launched) in NGINX_EDITS.items():
        path = folder / "conf.d" / name
        if path.read_text().count(ours) != 1:
            raise ServerError(f"{path.name} no longer holds {ours!r} once: update {__file__}")
        path.write_text(path.read_text().replace(ours, launched.format(port=upstream.port)))
    with socket.socket() as probe:  # nginx binds its own port: a small race, told if lost
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # As root its workers would run as nobody, who cannot enter a private temporary folder.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.read_text().format(user=user, folder=folder, port=port))
    checked = subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)
    if checked.returncode != 0:
        raise ServerError(f"nginx refuses {conf}: {checked.stderr}")
    started_at, quiet = time.perf_counter(), subprocess.DEVNULL
    command = [NGINX, "-c", conf]
    process = subprocess.Popen(command, stdout=quiet, stderr=quiet, start_new_session=True)
    return Server(process, port, folder / "error.log", started_at)
