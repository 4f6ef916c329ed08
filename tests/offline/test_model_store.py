"""The model store: immutable versions, an atomic CURRENT pointer and integrity checks.

Tests publish the session's real exported model into their own store in `tmp_path`.
They run as root in CI, where write permission is not enforced, so read-only files are
checked by their mode bits rather than by a failing write.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import onnx
import pytest

from model_store.store import (
    _STAGING_PREFIX,
    METADATA_FILE,
    MODEL_FILE,
    POINTER_FILE,
    VERSIONS_DIR,
    IntegrityError,
    ModelStore,
    StoreError,
    VersionNotFound,
)

REPO = Path(__file__).resolve().parents[2]


def start_of_next_second() -> None:
    """Sleep into the next wall-clock second, so what follows lands in one second."""
    time.sleep(1.01 - time.time() % 1)


def snapshot(folder: Path) -> dict:
    """Every file's bytes, inode, modification time and mode: what 'unchanged' means."""
    return {
        path.name: (path.read_bytes(), path.stat().st_ino, path.stat().st_mtime_ns, path.stat())
        for path in sorted(folder.iterdir())
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def variant(onnx_bytes: bytes, note: str) -> bytes:
    """The same model with a different doc string: another SHA-256, same predictions."""
    model = onnx.load_from_string(onnx_bytes)
    model.doc_string = note
    return model.SerializeToString()


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "store")


def test_published_version_is_current_and_loads_as_published(store, published):
    version = store.publish(published.onnx_bytes, published.metadata)
    loaded = store.load()
    assert store.versions() == [version] and store.current_version() == version
    assert loaded.onnx_bytes == published.onnx_bytes
    assert loaded.metadata["version"] == version
    assert loaded.metadata["schema"] == published.metadata["schema"]


def test_publish_without_promote_leaves_current_alone(store, published):
    first = store.publish(published.onnx_bytes, published.metadata)
    second = store.publish(published.onnx_bytes, published.metadata, promote=False)
    assert store.versions() == [first, second]
    assert store.current_version() == first


def test_published_files_and_folder_are_read_only(store, published):
    version = store.publish(published.onnx_bytes, published.metadata)
    folder = store.root / VERSIONS_DIR / version
    assert mode(folder) == 0o555
    assert mode(folder / MODEL_FILE) == mode(folder / METADATA_FILE) == 0o444


def test_publishing_again_never_modifies_an_existing_version(store, published):
    start_of_next_second()  # ids name the second and the digest: this one asks for a taken id
    first = store.publish(published.onnx_bytes, published.metadata)
    before = snapshot(store.root / VERSIONS_DIR / first)
    second = store.publish(published.onnx_bytes, published.metadata)
    assert second != first
    assert snapshot(store.root / VERSIONS_DIR / first) == before


def test_store_api_has_no_operation_that_rewrites_or_removes_a_version():
    public = {name for name in dir(ModelStore) if not name.startswith("_")}
    assert public == {
        "versions",
        "current_version",
        "metadata",
        "load",
        "card",
        "previous_version",
        "publish",
        "promote",
        # Removes only `.staging-*` folders of killed publishes, never a version
        # (tests/offline/test_store_staging_cleanup.py).
        "remove_staging_leftovers",
    }


def test_simultaneous_publishes_of_the_same_model_land_as_separate_versions(store, published):
    threads = 6
    barrier = threading.Barrier(threads)

    def publish(_):
        barrier.wait()
        return store.publish(published.onnx_bytes, published.metadata)

    start_of_next_second()
    with ThreadPoolExecutor(threads) as pool:
        versions = list(pool.map(publish, range(threads)))
    assert len({store.metadata(v)["created_at"] for v in versions}) == 1  # all in one second
    assert sorted(versions) == store.versions()
    assert all(store.load(v).onnx_bytes == published.onnx_bytes for v in versions)
    assert store.current_version() in versions


PUBLISH_AND_WAIT = """
import json, sys
from pathlib import Path
from model_store.store import ModelStore
store = ModelStore(sys.argv[1])
onnx_bytes, metadata = Path(sys.argv[2]).read_bytes(), json.loads(Path(sys.argv[3]).read_text())
print("ready", flush=True)
for _ in range(3):
    store.publish(onnx_bytes, metadata)
"""


def test_publish_killed_at_any_point_leaves_a_consistent_store(store, published, tmp_path):
    """SIGKILL a publishing process at random moments: no partial version is ever listed and
    CURRENT, once written, always names a complete one."""
    rng = random.Random(1127)
    metadata_file = tmp_path / "metadata.json"
    metadata_file.write_text(json.dumps(published.metadata))
    full_run = None  # seconds three publishes take here: kills are spread over that
    for attempt in range(20):
        model_file = tmp_path / f"model-{attempt}.onnx"
        model_file.write_bytes(variant(published.onnx_bytes, f"crash test {attempt}"))
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                PUBLISH_AND_WAIT,
                str(store.root),
                str(model_file),
                str(metadata_file),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline() == "ready\n"
        if full_run is None:  # the first run is left to finish, to time it on this machine
            started = time.perf_counter()
            child.communicate()
            full_run = time.perf_counter() - started
        else:
            time.sleep(rng.uniform(0, full_run))
            child.send_signal(signal.SIGKILL)
            child.communicate()

        listed = store.versions()
        assert all(store.load(v).metadata["version"] == v for v in listed)
        try:
            assert store.current_version() in listed
        except StoreError as exc:
            assert "no current model" in str(exc)  # killed before the first promote
    visible = sorted(p.name for p in (store.root / VERSIONS_DIR).iterdir() if p.name[0] != ".")
    assert visible == store.versions() != []


def test_leftover_staging_folders_are_not_versions(store, published):
    version = store.publish(published.onnx_bytes, published.metadata)
    versions_dir = store.root / VERSIONS_DIR
    complete, partial = versions_dir / f"{_STAGING_PREFIX}a1", versions_dir / f"{_STAGING_PREFIX}b2"
    complete.mkdir()
    partial.mkdir()
    (complete / MODEL_FILE).write_bytes(published.onnx_bytes)
    (complete / METADATA_FILE).write_bytes((versions_dir / version / METADATA_FILE).read_bytes())
    (partial / MODEL_FILE).write_bytes(published.onnx_bytes[:100])
    assert store.versions() == [version]
    with pytest.raises(VersionNotFound):
        store.promote(complete.name)


def test_promote_replaces_current_by_rename_leaving_no_temporary_file(store, published):
    first = store.publish(published.onnx_bytes, published.metadata)
    store.publish(published.onnx_bytes, published.metadata)
    pointer = store.root / POINTER_FILE
    inode = pointer.stat().st_ino
    store.promote(first)
    assert pointer.stat().st_ino != inode  # a new file renamed over the old, not rewritten
    assert sorted(p.name for p in store.root.iterdir()) == sorted([POINTER_FILE, VERSIONS_DIR])
    assert store.current_version() == first


def test_altered_model_file_is_refused_naming_the_sha256_mismatch(store, published, corrupt):
    version = store.publish(published.onnx_bytes, published.metadata)
    model_file = store.root / VERSIONS_DIR / version / MODEL_FILE
    corrupt(model_file)
    with pytest.raises(IntegrityError) as raised:
        store.load(version)
    message = str(raised.value)
    assert "SHA-256" in message
    assert hashlib.sha256(model_file.read_bytes()).hexdigest() in message
    assert published.metadata["model_sha256"] in message


def test_promoting_an_altered_version_is_refused(store, published, corrupt):
    first = store.publish(published.onnx_bytes, published.metadata)
    second = store.publish(published.onnx_bytes, published.metadata)
    corrupt(store.root / VERSIONS_DIR / first / MODEL_FILE)
    with pytest.raises(IntegrityError):
        store.promote(first)
    assert store.current_version() == second


@pytest.mark.parametrize(
    "unknown",
    [
        "20200101T000000Z-deadbeef",
        "..",
        "../versions",
        pytest.param("", id="empty"),
    ],
)
def test_promoting_an_unknown_version_is_refused_and_current_unchanged(store, published, unknown):
    version = store.publish(published.onnx_bytes, published.metadata)
    pointer = (store.root / POINTER_FILE).read_bytes()
    with pytest.raises(VersionNotFound):
        store.promote(unknown)
    assert (store.root / POINTER_FILE).read_bytes() == pointer
    assert store.current_version() == version


def test_current_naming_a_missing_version_is_an_error_naming_it(store, published):
    store.publish(published.onnx_bytes, published.metadata)
    (store.root / POINTER_FILE).write_text("20200101T000000Z-gone\n")
    with pytest.raises(StoreError, match="20200101T000000Z-gone"):
        store.current_version()


def test_previous_version_is_the_one_published_before_current(store, published):
    first = store.publish(published.onnx_bytes, published.metadata)
    store.publish(published.onnx_bytes, published.metadata)
    assert store.previous_version() == first


def test_nothing_to_roll_back_to_from_the_oldest_version(store, published):
    store.publish(published.onnx_bytes, published.metadata)
    with pytest.raises(StoreError, match="nothing to roll back to"):
        store.previous_version()


def test_versions_published_in_one_second_keep_their_publication_order(store, published):
    one, other = variant(published.onnx_bytes, "one"), variant(published.onnx_bytes, "other")
    # Publish the larger digest first, so digest order and publication order disagree.
    earlier, later = sorted([one, other], key=lambda b: hashlib.sha256(b).hexdigest())[::-1]
    start_of_next_second()
    first = store.publish(earlier, published.metadata)
    second = store.publish(later, published.metadata)
    assert store.versions() == [first, second]
    assert store.previous_version() == first
