"""Staging folders left by killed publishes are removed, by the next publish and by
`python -m model_store clean`, but never the folder of a publish still in progress.

Leftovers are made the way they happen: a real publish in a child process, paused at a
chosen point by a profiling hook (nothing of the store is replaced) and SIGKILLed there.
A publish "in progress" is such a child left paused, holding its lock. Tests run as root
in CI, so an unremovable folder is made with `chattr +i` there.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from model_store.__main__ import main
from model_store.store import (
    _STAGING_PREFIX,
    METADATA_FILE,
    MODEL_FILE,
    VERSIONS_DIR,
    ModelStore,
)
from tests.support.models import REPO

# One real publish (promote=False) that stops at `pause_at` and waits for a line on stdin:
#   "write":  its staging folder was just made and is still empty and writable;
#   "rename": its staging folder is complete and read-only (0o555), about to be renamed.
PAUSED_PUBLISH = """
import json, os, sys
from pathlib import Path
from model_store import store as store_module

store = store_module.ModelStore(sys.argv[1])
onnx_bytes, metadata = Path(sys.argv[2]).read_bytes(), json.loads(Path(sys.argv[3]).read_text())
pause_at = sys.argv[4]

def pause(frame, event, arg):
    if (pause_at == "write" and event == "call"
            and frame.f_code is store_module._write_durably.__code__) or (
            pause_at == "rename" and event == "c_call" and arg is os.rename):
        sys.setprofile(None)
        print("paused", flush=True)
        sys.stdin.readline()

print("ready", flush=True)
sys.setprofile(pause)
version = store.publish(onnx_bytes, metadata, promote=False)
sys.setprofile(None)
print(version, flush=True)
"""

# Publishes one model `times` times, promoting each.
PUBLISH_MANY = """
import json, sys
from pathlib import Path
from model_store.store import ModelStore
store = ModelStore(sys.argv[1])
onnx_bytes, metadata = Path(sys.argv[2]).read_bytes(), json.loads(Path(sys.argv[3]).read_text())
for _ in range(int(sys.argv[4])):
    print(store.publish(onnx_bytes, metadata), flush=True)
"""


@dataclass
class PausedPublish:
    child: subprocess.Popen
    staging: Path  # its staging folder, as it was when it paused

    def resume(self) -> str:
        """Let it finish; the version it published."""
        out, _ = self.child.communicate("\n", timeout=60)
        assert self.child.returncode == 0
        return out.split()[-1]

    def kill(self) -> None:
        self.child.send_signal(signal.SIGKILL)
        self.child.communicate(timeout=60)


@pytest.fixture
def store(tmp_path, published) -> ModelStore:
    """One published, current version of the session's model."""
    store = ModelStore(tmp_path / "store")
    store.publish(published.onnx_bytes, published.metadata)
    return store


@pytest.fixture
def model_files(tmp_path, published) -> tuple[Path, Path]:
    model_file, metadata_file = tmp_path / "model.onnx", tmp_path / "metadata.json"
    model_file.write_bytes(published.onnx_bytes)
    metadata_file.write_text(json.dumps(published.metadata))
    return model_file, metadata_file


@pytest.fixture
def paused_publish(store, model_files):
    """paused_publish(pause_at) -> a child publishing into `store`, stopped at `pause_at`."""
    children: list[subprocess.Popen] = []

    def start(pause_at: str) -> PausedPublish:
        before = set(staging_folders(store))
        child = subprocess.Popen(
            [sys.executable, "-c", PAUSED_PUBLISH, str(store.root), *map(str, model_files),
             pause_at],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        children.append(child)
        assert child.stdout.readline() == "ready\n"
        assert child.stdout.readline() == "paused\n"
        (staging,) = set(staging_folders(store)) - before
        return PausedPublish(child, staging)

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
            child.communicate()


@pytest.fixture
def leftovers(paused_publish):
    """leftovers(*pause_at) -> the staging folders of publishes SIGKILLed at those points.

    All are paused before any is killed: a publish started after a kill would remove the
    earlier leftovers, as it should."""

    def make(*pause_at: str) -> list[Path]:
        publishes = [paused_publish(point) for point in pause_at]
        for publish in publishes:
            publish.kill()
        assert all(publish.staging.is_dir() for publish in publishes)
        return [publish.staging for publish in publishes]

    return make


def staging_folders(store: ModelStore) -> list[Path]:
    return sorted((store.root / VERSIONS_DIR).glob(f"{_STAGING_PREFIX}*"))


def tree(folder: Path) -> dict:
    """Every entry under `folder` but staging folders (symlinks not followed), with its bytes
    or link target, inode, modification time and mode: what 'unchanged' means."""
    entries = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(_STAGING_PREFIX)]
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            if path.is_symlink():
                content = os.readlink(path)
            elif path.is_file():
                content = path.read_bytes()
            else:
                content = None
            # Removing a staging folder changes the modification time of versions/ alone.
            mtime = None if path == folder / VERSIONS_DIR else info.st_mtime_ns
            entries[str(path.relative_to(folder))] = (content, info.st_ino, mtime, info.st_mode)
    return entries


def run(store: ModelStore, *arguments: str) -> int:
    return main(["--store", str(store.root), *arguments])


def verify_passes(store: ModelStore, capsys) -> None:
    assert run(store, "verify") == 0, capsys.readouterr().err
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == store.versions()


def test_leftovers_are_what_killed_publishes_leave(store, leftovers):
    """The precondition: a publish killed mid-way leaves a staging folder, never a version."""
    versions = store.versions()
    empty, complete = leftovers("write", "rename")
    assert list(empty.iterdir()) == []
    assert sorted(p.name for p in complete.iterdir()) == [METADATA_FILE, MODEL_FILE]
    assert stat.S_IMODE(complete.stat().st_mode) == 0o555
    assert store.versions() == versions


def test_next_publish_removes_leftovers_and_nothing_else(
    store, leftovers, published, capsys, caplog
):
    caplog.set_level(logging.INFO, logger="model_store.store")
    debris = leftovers("write", "rename")
    before, (old,) = tree(store.root), store.versions()
    new = store.publish(published.onnx_bytes, published.metadata, promote=False)
    assert staging_folders(store) == []
    assert store.versions() == [old, new]
    after = tree(store.root)
    assert {name: after[name] for name in before} == before  # old version and CURRENT
    assert store.current_version() == old
    assert [r.getMessage() for r in caplog.records] == [
        f"removed leftover staging folder {path}" for path in sorted(debris)
    ]
    verify_passes(store, capsys)


def test_clean_command_removes_leftovers_naming_each(store, leftovers, capsys):
    debris = leftovers("rename", "write", "rename")
    before = tree(store.root)
    assert run(store, "clean") == 0
    assert capsys.readouterr().out.splitlines() == [f"removed {p}" for p in sorted(debris)]
    assert staging_folders(store) == []
    assert tree(store.root) == before
    assert run(store, "clean") == 0
    assert capsys.readouterr().out == "no leftover staging folders\n"
    verify_passes(store, capsys)


def test_clean_command_runs_as_a_module(store, leftovers):
    (path,) = leftovers("rename")
    done = subprocess.run(
        [sys.executable, "-m", "model_store", "--store", str(store.root), "clean"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, f"removed {path}\n", "")
    assert staging_folders(store) == []


def test_clean_of_a_store_never_published_to(tmp_path, capsys):
    assert run(ModelStore(tmp_path / "empty"), "clean") == 0
    assert capsys.readouterr().out == "no leftover staging folders\n"


@pytest.mark.parametrize("pause_at", ["write", "rename"])
def test_the_staging_folder_of_a_publish_in_progress_is_never_removed(
    store, paused_publish, published, pause_at, capsys, caplog
):
    """While any publish is in progress its folder cannot be told from a leftover, so
    nothing is removed, leftovers included: by a publish, or by `clean`. Both after."""
    caplog.set_level(logging.INFO, logger="model_store.store")
    # Killed while the other is paused, or the other would have removed its folder.
    killed, publish = paused_publish("rename"), paused_publish(pause_at)
    killed.kill()
    debris = killed.staging
    contents = sorted(p.name for p in publish.staging.iterdir())

    # Another publish goes ahead (it does not wait) and leaves both folders alone.
    other = store.publish(published.onnx_bytes, published.metadata)
    assert store.current_version() == other
    assert run(store, "clean", "--wait", "0") == 1
    assert "a publish is still in progress" in capsys.readouterr().err
    assert staging_folders(store) == sorted([debris, publish.staging])
    assert sorted(p.name for p in publish.staging.iterdir()) == contents
    assert caplog.records == []

    version = publish.resume()
    assert store.load(version).onnx_bytes == published.onnx_bytes
    assert store.current_version() == other  # it published with promote=False
    assert staging_folders(store) == [debris]
    assert run(store, "clean") == 0
    assert capsys.readouterr().out == f"removed {debris}\n"
    verify_passes(store, capsys)


def test_clean_waits_for_a_publish_in_progress_then_removes_leftovers(store, paused_publish):
    killed, publish = paused_publish("write"), paused_publish("rename")
    killed.kill()
    debris = killed.staging
    result = {}
    cleaner = threading.Thread(
        target=lambda: result.update(cleanup=store.remove_staging_leftovers(wait=60))
    )
    cleaner.start()
    cleaner.join(0.5)
    assert cleaner.is_alive()  # waiting for the publish
    version = publish.resume()
    cleaner.join(60)
    assert result["cleanup"].removed == (debris,) and not result["cleanup"].busy
    assert staging_folders(store) == []
    assert version in store.versions()


def test_cleaning_while_publishing_never_breaks_a_publish(store, model_files, leftovers):
    """A cleanup racing a stream of publishes: every publish lands, and leftovers go."""
    (debris,) = leftovers("rename")
    times = 25
    child = subprocess.Popen(
        [sys.executable, "-c", PUBLISH_MANY, str(store.root), *map(str, model_files), str(times)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    cleanups = []
    while child.poll() is None:
        cleanups.append(store.remove_staging_leftovers())
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    published = out.split()
    assert len(published) == times and set(published) <= set(store.versions())
    assert all(store.load(v).metadata["version"] == v for v in published)
    assert not any(cleanup.problems for cleanup in cleanups)
    assert not debris.exists() and staging_folders(store) == []


def test_cleanup_touches_only_real_staging_folders_and_follows_no_symlink(
    store, tmp_path, published, capsys, caplog
):
    versions_dir = store.root / VERSIONS_DIR
    (version,) = store.versions()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the store's")
    os.chmod(outside, 0o555)
    (versions_dir / f"{_STAGING_PREFIX}out").symlink_to(outside)
    (versions_dir / f"{_STAGING_PREFIX}version").symlink_to(version)
    (versions_dir / f"{_STAGING_PREFIX}file").write_text("a file, not a folder")
    for name in (".other-hidden", "staging-not-hidden"):
        (versions_dir / name).mkdir()
        (versions_dir / name / "keep.txt").write_text("not a staging folder")
    before, outside_before = tree(store.root), tree(outside)
    kept = staging_folders(store)

    assert run(store, "clean") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert sorted(captured.err.splitlines()) == [
        f"error: {versions_dir / name} is not a folder (a publish makes only folders): left alone"
        for name in sorted(p.name for p in kept)
    ]
    assert staging_folders(store) == kept
    assert tree(store.root) == before and tree(outside) == outside_before

    # A publish reports the same as warnings and succeeds.
    caplog.set_level(logging.INFO, logger="model_store.store")
    new = store.publish(published.onnx_bytes, published.metadata)
    assert store.current_version() == new
    assert [r.levelname for r in caplog.records] == ["WARNING"] * len(kept)
    assert staging_folders(store) == kept and tree(outside) == outside_before
    verify_passes(store, capsys)


@pytest.fixture
def unremovable():
    """unremovable(folder): make a folder that a cleanup cannot remove; undone afterwards."""
    undo = []

    def make(folder: Path) -> None:
        if os.geteuid() == 0:  # write permission is not enforced for root: the immutable flag is
            chattr = shutil.which("chattr")
            if not chattr or subprocess.run([chattr, "+i", str(folder)]).returncode != 0:
                pytest.skip("running as root, and this file system has no immutable flag")
            undo.append(lambda: subprocess.run([chattr, "-i", str(folder)], check=True))
        else:  # the cleanup makes the folder writable, not a folder inside it
            inner = folder / "inner"
            os.chmod(folder, 0o755)
            inner.mkdir()
            (inner / "file").write_text("")
            os.chmod(inner, 0o555)
            os.chmod(folder, 0o555)
            undo.append(lambda: os.chmod(inner, 0o755))

    yield make
    for step in undo:
        step()


def test_a_leftover_that_cannot_be_removed_is_reported_and_publishing_goes_on(
    store, leftovers, unremovable, published, capsys, caplog
):
    stuck, removable = leftovers("rename", "write")
    unremovable(stuck)

    caplog.set_level(logging.INFO, logger="model_store.store")
    new = store.publish(published.onnx_bytes, published.metadata)
    assert store.current_version() == new
    assert staging_folders(store) == [stuck]
    messages = {r.levelname: r.getMessage() for r in caplog.records}
    assert messages["INFO"] == f"removed leftover staging folder {removable}"
    assert messages["WARNING"].startswith(f"cannot remove leftover staging folder {stuck}: ")

    assert run(store, "clean") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: cannot remove leftover staging folder {stuck}: ")
    assert staging_folders(store) == [stuck]
    verify_passes(store, capsys)
