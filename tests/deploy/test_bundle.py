"""deploy/bundle.py: what the bundle holds, and that it serves on its own.

The last tests do what Elastic Beanstalk does with the bundle: unpack it into an
empty folder, build a fresh virtualenv from its requirements.txt alone, run the
Procfile's web command with the environment properties of .ebextensions/, and
ask for a prediction over HTTP. They need PyPI (or pip's cache) and take about
a minute.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from benchmarks.launcher import http, launch
from model_store.store import ModelStore
from tests.support.models import STUDENT

REPO = Path(__file__).resolve().parents[2]
BUNDLE_SCRIPT = REPO / "deploy" / "bundle.py"
MAX_BUNDLE_BYTES = 1_000_000
MAX_VENV_BYTES = 200_000_000
READY_TIMEOUT = 20.0
ENVIRONMENT_NAMESPACE = "aws:elasticbeanstalk:application:environment"
NOT_SERVED = ("tests/", "train/", "export/", "benchmarks/", "data/", "runs/", "deploy/")


def run_bundle(out: Path, root: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BUNDLE_SCRIPT), "--root", str(root), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def build(out: Path, root: Path = REPO) -> list[str]:
    result = run_bundle(out, root)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as bundle:
        return bundle.namelist()


# -- a small checkout with everything a real one has --------------------------


def write(path: Path, text: str = "", mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def publish(store: ModelStore, payload: bytes, promote: bool) -> str:
    return store.publish(payload, {"schema": {"features": [], "target": {}}}, promote=promote)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    for name in (
        "Procfile",
        "requirements.txt",
        "README.md",
        "buildspec.yml",
        "server/__init__.py",
        "server/app.py",
        "server/static/style.css",
        "server/__pycache__/app.cpython-311.pyc",
        "server/notes.md",
        "model_store/__init__.py",
        "model_store/store.py",
        "model_store/README.md",
        ".ebextensions/01-pip.config",
        ".platform/nginx/conf.d/app.conf",
        "tests/test_app.py",
        "train/__main__.py",
        "export/__main__.py",
        "benchmarks/bench.py",
        "data/students.csv",
        "deploy/bundle.py",
        ".git/HEAD",
    ):
        write(root / name, name)
    write(root / ".platform/hooks/predeploy/01-check.sh", "#!/bin/sh\n", mode=0o755)
    store = ModelStore(root / "model_store")
    publish(store, b"old model", promote=True)
    publish(store, b"new model", promote=True)
    publish(store, b"candidate", promote=False)
    return root


def current_version(root: Path) -> str:
    return ModelStore(root / "model_store").current_version()


def test_bundle_holds_the_serving_files_and_nothing_else(checkout, tmp_path):
    version = current_version(checkout)
    assert set(build(tmp_path / "b.zip", checkout)) == {
        "Procfile",
        "requirements.txt",
        "server/__init__.py",
        "server/app.py",
        "server/static/style.css",
        "model_store/__init__.py",
        "model_store/store.py",
        "model_store/CURRENT",
        f"model_store/versions/{version}/model.onnx",
        f"model_store/versions/{version}/metadata.json",
        ".ebextensions/01-pip.config",
        ".platform/nginx/conf.d/app.conf",
        ".platform/hooks/predeploy/01-check.sh",
    }


def test_bundle_holds_only_the_current_model_version(checkout, tmp_path):
    versions = {
        name.split("/")[2]
        for name in build(tmp_path / "b.zip", checkout)
        if name.startswith("model_store/versions/")
    }
    assert versions == {current_version(checkout)}


def test_platform_hooks_stay_executable(checkout, tmp_path):
    build(tmp_path / "b.zip", checkout)
    with zipfile.ZipFile(tmp_path / "b.zip") as bundle:
        mode = bundle.getinfo(".platform/hooks/predeploy/01-check.sh").external_attr >> 16
    assert mode & stat.S_IXUSR


def test_same_tree_gives_the_same_bytes(checkout, tmp_path):
    build(tmp_path / "first.zip", checkout)
    os.utime(checkout / "server" / "app.py", (0, 0))  # a fresh checkout has other mtimes
    build(tmp_path / "second.zip", checkout)
    assert (tmp_path / "first.zip").read_bytes() == (tmp_path / "second.zip").read_bytes()


def test_missing_current_pointer_fails_with_a_clear_message(checkout, tmp_path):
    (checkout / "model_store" / "CURRENT").unlink()
    result = run_bundle(tmp_path / "b.zip", checkout)
    assert result.returncode == 1
    assert "no current model" in result.stderr and "make publish" in result.stderr
    assert not (tmp_path / "b.zip").exists()


def test_corrupt_current_model_is_not_bundled(checkout, tmp_path):
    model = checkout / "model_store" / "versions" / current_version(checkout) / "model.onnx"
    model.chmod(0o644)
    model.write_bytes(b"tampered")
    result = run_bundle(tmp_path / "b.zip", checkout)
    assert result.returncode == 1
    assert "SHA-256" in result.stderr


# -- this repository's bundle, served the way Elastic Beanstalk serves it -----


@pytest.fixture(scope="module")
def repo_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "studypredict-bundle.zip"
    build(out)
    return out


def test_repository_bundle_is_small_and_serving_only(repo_bundle, capsys):
    with zipfile.ZipFile(repo_bundle) as bundle:
        names = bundle.namelist()
    version = current_version(REPO)
    size = repo_bundle.stat().st_size
    with capsys.disabled():
        print(f"\nbundle: {len(names)} files, {size / 1024:.1f} KiB", end=" ")
    assert size < MAX_BUNDLE_BYTES
    assert {"Procfile", "requirements.txt", "server/app.py", "model_store/CURRENT"} <= set(names)
    assert f"model_store/versions/{version}/model.onnx" in names
    assert any(n.startswith(".ebextensions/") for n in names)
    assert any(n.startswith(".platform/nginx/") for n in names)
    assert not [n for n in names if n.startswith(NOT_SERVED) or "__pycache__" in n]


def eb_environment() -> dict[str, str]:
    """The environment properties .ebextensions/ gives the instances."""
    env: dict[str, str] = {}
    for path in sorted((REPO / ".ebextensions").glob("*.config")):
        settings = (yaml.safe_load(path.read_text()) or {}).get("option_settings") or {}
        if isinstance(settings, list):
            settings = {s["namespace"]: {s["option_name"]: s.get("value")} for s in settings}
        env.update({k: str(v) for k, v in (settings.get(ENVIRONMENT_NAMESPACE) or {}).items()})
    return env


def folder_bytes(folder: Path) -> int:
    return sum((Path(d) / f).lstat().st_size for d, _, files in os.walk(folder) for f in files)


@pytest.fixture(scope="module")
def installed(repo_bundle, tmp_path_factory) -> tuple[Path, Path]:
    """(app folder, virtualenv): the bundle unpacked and its requirements.txt installed."""
    app = tmp_path_factory.mktemp("app")
    with zipfile.ZipFile(repo_bundle) as bundle:
        bundle.extractall(app)
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [
            *(str(venv / "bin" / "python"), "-m", "pip", "install", "-r", "requirements.txt"),
            *("--disable-pip-version-check", "--no-input", "--quiet"),
        ],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, f"pip install -r requirements.txt failed:\n{pip.stderr[-3000:]}"
    return app, venv


@pytest.fixture(scope="module")
def server(installed, tmp_path_factory):
    """The Procfile's web command running from the unpacked bundle, with only the
    environment an instance has: the venv's bin on PATH and .ebextensions' properties."""
    app, venv = installed
    base = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", str(app)), "LANG": "C.UTF-8"}
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    server = launch(log_path, eb_environment(), venv=venv, cwd=app, base_env=base)
    try:
        server.wait_ready(timeout=READY_TIMEOUT)
        yield server
    finally:
        server.stop()


def test_installed_virtualenv_is_small(installed, capsys):
    _, venv = installed
    size = folder_bytes(venv)
    with capsys.disabled():
        print(f"\nvirtualenv from requirements.txt: {size / 1e6:.0f} MB", end=" ")
    assert size < MAX_VENV_BYTES


def test_bundle_serves_a_prediction_on_its_own(server, capsys):
    status, body = http(f"{server.url}/predictdata", json.dumps(STUDENT).encode())
    cold_start = time.perf_counter() - server.started_at
    answer = json.loads(body)
    with capsys.disabled():
        print(f"\ncold start (launch to first prediction): {cold_start:.2f} s", end=" ")
    assert status == 200
    score = answer["math_score"]
    assert isinstance(score, int | float) and not isinstance(score, bool)
