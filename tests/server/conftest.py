"""Fixtures for the server's tests. They run in the serving environment
(requirements.txt + pytest): no scikit-learn, so the model they serve is the
committed one, a real trained model, copied into a temporary store."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import falcon.testing
import pytest

from model_store.onnx_io import build_feeds, open_session, predict
from model_store.store import DEFAULT_ROOT, ModelStore
from server.app import create_app
from server.config import Settings
from server.model import load_verified_model

REPO = Path(__file__).resolve().parents[2]

STUDENT = {
    "gender": "female",
    "race_ethnicity": "group B",
    "parental_level_of_education": "bachelor's degree",
    "lunch": "standard",
    "test_preparation_course": "none",
    "reading_score": 72,
    "writing_score": 74,
}


def copy_committed_store(destination: Path) -> ModelStore:
    """The committed store's current version, as a fresh store of its own."""
    source = ModelStore(DEFAULT_ROOT)
    version = source.current_version()
    shutil.copytree(DEFAULT_ROOT / "versions" / version, destination / "versions" / version)
    (destination / "CURRENT").write_text(version + "\n")
    return ModelStore(destination)


# Intervals and a reference student as the export writes them (see
# /work/helpers/COMMON.md's metadata format), for the committed model, which predates them.
TEST_INTERVALS = {
    "method": "split-conformal: absolute out-of-fold residuals on the training split",
    "half_widths": {"80": 6.9, "90": 8.8, "95": 10.4},
    "holdout_coverage": {"80": 0.8, "90": 0.9, "95": 0.95},
    "holdout_rows": 200,
    "tolerance": {"80": 0.05, "90": 0.04, "95": 0.03},
}
STORE_KEYS = ("version", "created_at", "model_sha256", "model_file", "format_version")


def publish_with_options(root: Path) -> ModelStore:
    """The committed model published, through the store's own API, into a fresh store
    with `intervals` and `reference` in its metadata."""
    stored = ModelStore(DEFAULT_ROOT).load()
    metadata = {k: v for k, v in stored.metadata.items() if k not in STORE_KEYS}
    student = {
        "gender": "female", "race_ethnicity": "group C",
        "parental_level_of_education": "some college", "lunch": "standard",
        "test_preparation_course": "none", "reading_score": 69.2, "writing_score": 68.1,
    }  # fmt: skip
    session = open_session(stored.onnx_bytes)
    (score,) = predict(session, build_feeds(metadata, {k: [v] for k, v in student.items()}))
    metadata["intervals"] = TEST_INTERVALS
    metadata["reference"] = {"student": student, "math_score": float(score)}
    store = ModelStore(root)
    store.publish(stored.onnx_bytes, metadata)
    return store


@pytest.fixture(scope="session")
def optioned_store(tmp_path_factory) -> ModelStore:
    return publish_with_options(tmp_path_factory.mktemp("optioned"))


@pytest.fixture(scope="session")
def optioned_model(optioned_store):
    """The committed model with intervals and a reference student."""
    return load_verified_model(optioned_store, None, threads=1)


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return copy_committed_store(tmp_path / "store")


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    store = copy_committed_store(tmp_path_factory.mktemp("store"))
    return load_verified_model(store, None, threads=1)


def make_client(model, **limits) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(model, Settings(**limits)))


@pytest.fixture
def client(model) -> falcon.testing.TestClient:
    return make_client(model)


def server_environment(store_dir: Path, **env: str) -> dict[str, str]:
    """The environment the Procfile command runs in: this virtual environment's
    bin first on PATH, as an activated environment on Elastic Beanstalk has it."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "MODEL_STORE_DIR": str(store_dir), **env}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_web_command() -> list[str]:
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return shlex.split(line.removeprefix("web:"))
    raise AssertionError("the Procfile has no web: line")


class RunningServer:
    """The Procfile's web command, started on a free loopback port."""

    def __init__(self, store_dir: Path, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        environment = server_environment(store_dir, PORT=str(self.port), **env)
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            procfile_web_command(),
            cwd=REPO,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=1) as response:
                    # The log proves the answer is ours: another suite may have
                    # taken the "free" port before Gunicorn bound it.
                    ours = f"Listening at: {self.url} ({self.process.pid})" in self.log()
                    if response.status == 200 and ours:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not ready after {timeout} s:\n{self.log()}")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


@pytest.fixture
def start_server(tmp_path: Path):
    """Start servers from the Procfile; every one is stopped at teardown."""
    started: list[RunningServer] = []

    def start(store_dir: Path, wait: bool = True, **env: str) -> RunningServer:
        server = RunningServer(store_dir, tmp_path / f"server-{len(started)}.log", **env)
        started.append(server)
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
