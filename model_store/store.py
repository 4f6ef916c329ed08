"""The model store's on-disk format. This module is the only one that knows it.

    <root>/
      CURRENT                    the served version's id, one line
      versions/<id>/model.onnx   the ONNX graph
      versions/<id>/metadata.json
      versions/<id>/card.html    the model card (versions published with one)

`metadata.json` records each other file's SHA-256 under "sha256_manifest" (and the
model's, as before, under "model_sha256"); every read checks the file against it.

A version is immutable: it is assembled in a hidden staging folder and appears
under `versions/` by one atomic rename, files read-only. `CURRENT` is replaced
atomically (write a temporary file, fsync, rename), so a crash at any point
leaves either the old pointer or the new one, never a broken one, and never a
half-written version. Loading checks the model's SHA-256 against its metadata.

A publish killed mid-way (SIGKILL, power loss) leaves its staging folder,
`versions/.staging-<uuid>`, behind; it is never listed as a version. Such
leftovers are removed at the start of each publish and by
`python -m model_store clean`. What tells a leftover from the folder of a
publish still in progress is a `flock` on the `versions/` folder itself: every
publish holds a shared lock from before it creates its staging folder until
that folder is renamed or removed, and a cleanup removes anything only while it
holds the exclusive lock, so only while no publish is in progress. The kernel
drops a killed process's locks, so its folder becomes removable at once; a
folder's age proves nothing, since a slow disk can keep a live publish busy for
minutes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path(__file__).resolve().parent
VERSIONS_DIR = "versions"
POINTER_FILE = "CURRENT"
MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"
CARD_FILE = "card.html"
MANIFEST_KEY = "sha256_manifest"
FORMAT_VERSION = 1
_STAGING_PREFIX = ".staging-"

logger = logging.getLogger(__name__)


class StoreError(Exception):
    """A model store operation could not be done; the message says why."""


class VersionNotFound(StoreError):
    pass


class IntegrityError(StoreError):
    """A stored model does not match the SHA-256 recorded when it was published."""


@dataclass(frozen=True)
class StoredModel:
    version: str
    metadata: dict
    onnx_bytes: bytes


@dataclass(frozen=True)
class StagingCleanup:
    """What a removal of leftover staging folders did."""

    removed: tuple[Path, ...] = ()
    problems: tuple[str, ...] = ()  # one message per `.staging-*` entry left in place
    busy: bool = False  # a publish was in progress: nothing was examined, nothing removed


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ModelStore:
    """Immutable, versioned ONNX models with their metadata, under one root folder."""

    def __init__(self, root: Path | str = DEFAULT_ROOT) -> None:
        self.root = Path(root)
        self._versions = self.root / VERSIONS_DIR
        self._pointer = self.root / POINTER_FILE

    # -- reading ---------------------------------------------------------

    def versions(self) -> list[str]:
        """Published version ids, oldest first (ids sort by publication time)."""
        if not self._versions.is_dir():
            return []
        return sorted(
            p.name
            for p in self._versions.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / METADATA_FILE).is_file()
        )

    def current_version(self) -> str:
        try:
            version = self._pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise StoreError(
                f"no current model in {self.root}: publish one (make publish) "
                f"or promote one (python -m model_store promote VERSION)"
            ) from None
        if not (self._versions / version / METADATA_FILE).is_file():
            raise StoreError(
                f"{self._pointer} names version {version!r}, which is not in the store"
            )
        return version

    def metadata(self, version: str) -> dict:
        path = self._version_dir(version) / METADATA_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"cannot read {path}: {exc}") from exc

    def load(self, version: str | None = None) -> StoredModel:
        """Read a version (the current one by default), refusing it if its SHA-256 differs."""
        if version is None:
            version = self.current_version()
        metadata = self.metadata(version)
        model_path = self._version_dir(version) / MODEL_FILE
        try:
            onnx_bytes = model_path.read_bytes()
        except OSError as exc:
            raise IntegrityError(f"cannot read {model_path}: {exc}") from exc
        actual = sha256_hex(onnx_bytes)
        if actual != metadata.get("model_sha256"):
            raise IntegrityError(
                f"{model_path} has SHA-256 {actual}, but its metadata records "
                f"{metadata.get('model_sha256')}: the file was altered or corrupted; "
                f"promote another version or publish again"
            )
        return StoredModel(version=version, metadata=metadata, onnx_bytes=onnx_bytes)

    def has_card(self, version: str) -> bool:
        """Whether the version was published with a model card (its manifest lists one)."""
        return CARD_FILE in self.metadata(version).get(MANIFEST_KEY, {})

    def card(self, version: str) -> bytes:
        """A version's model card (HTML), refused if its SHA-256 differs from the manifest's."""
        metadata = self.metadata(version)
        expected = metadata.get(MANIFEST_KEY, {}).get(CARD_FILE)
        if expected is None:
            raise StoreError(
                f"version {version} has no model card: it was published without one; "
                f"publish the model again (python -m export) to get one"
            )
        path = self._version_dir(version) / CARD_FILE
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IntegrityError(f"cannot read {path}: {exc}") from exc
        if sha256_hex(data) != expected:
            raise IntegrityError(
                f"{path} has SHA-256 {sha256_hex(data)}, but its metadata records {expected}: "
                f"the file was altered or corrupted; publish the model again"
            )
        return data

    def previous_version(self) -> str:
        """The version published just before the current one: what a rollback goes back to."""
        current = self.current_version()
        older = [v for v in self.versions() if v < current]
        if not older:
            raise StoreError(f"nothing to roll back to: {current} is the oldest version")
        return older[-1]

    # -- writing ---------------------------------------------------------

    def publish(
        self,
        onnx_bytes: bytes,
        metadata: dict,
        *,
        promote: bool = True,
        card: Callable[[dict], bytes] | None = None,
    ) -> str:
        """Add a new immutable version and (by default) make it current. Returns its id.

        `metadata` is completed here with what the store guarantees: version id,
        format, creation time and the SHA-256 of every file. `card`, given the completed
        metadata, renders the version's model card. Staging folders left by
        killed publishes are removed first, unless another publish is in
        progress; a leftover that cannot be removed is logged, never an error.
        """
        self._versions.mkdir(parents=True, exist_ok=True)
        digest = sha256_hex(onnx_bytes)
        with self._publishing():
            version = self._add_version(onnx_bytes, metadata, digest, card)
        if promote:
            self.promote(version)
        return version

    def _add_version(
        self,
        onnx_bytes: bytes,
        metadata: dict,
        digest: str,
        card: Callable[[dict], bytes] | None,
    ) -> str:
        # Microseconds, and a zero-padded retry number, keep ids in publication order
        # even for versions published within one second.
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1e6):06d}Z"
        for attempt in range(1, 100):
            version = f"{stamp}-{digest[:8]}" + (f"-{attempt:02d}" if attempt > 1 else "")
            staging = self._versions / f"{_STAGING_PREFIX}{uuid.uuid4().hex}"
            full = {
                **metadata,
                "format_version": FORMAT_VERSION,
                "version": version,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "model_file": MODEL_FILE,
                "model_sha256": digest,
                MANIFEST_KEY: {MODEL_FILE: digest},
            }
            card_bytes = card(full) if card is not None else None
            if card_bytes is not None:
                full[MANIFEST_KEY] = {**full[MANIFEST_KEY], CARD_FILE: sha256_hex(card_bytes)}
            try:
                staging.mkdir()
                _write_durably(staging / MODEL_FILE, onnx_bytes)
                if card_bytes is not None:
                    _write_durably(staging / CARD_FILE, card_bytes)
                _write_durably(staging / METADATA_FILE, _dump_json(full))
                os.chmod(staging, 0o555)  # nosec B103 # read-only on purpose: a version is immutable; models are not secret
                try:
                    # Atomic: the version appears whole or not at all. A taken
                    # name (two publishes in one second) makes the rename fail.
                    os.rename(staging, self._versions / version)
                except OSError:
                    if (self._versions / version).exists():
                        continue
                    raise
                _fsync_dir(self._versions)
            finally:
                if staging.exists():
                    _remove_tree(staging)
            return version
        raise StoreError(f"could not find a free version id for {stamp}-{digest[:8]}")

    @contextlib.contextmanager
    def _publishing(self) -> Iterator[None]:
        """Hold the shared lock that marks a publish in progress, after removing
        leftovers if no other publish is in progress (see the module docstring)."""
        fd = os.open(self._versions, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another publish is in progress: its folder is not debris; clean later
            except OSError as exc:
                logger.warning(
                    "not removing leftover staging folders: cannot lock %s: %s",
                    self._versions,
                    exc,
                )
            else:
                try:
                    _log_cleanup(_remove_leftovers(fd, self._versions))
                except OSError as exc:  # e.g. versions/ unreadable: never fail the publish
                    logger.warning("cannot look for leftover staging folders: %s", exc)
            try:
                # Turns the exclusive lock, if held, into a shared one. flock does that by
                # releasing it first, which is safe: this publish has no folder yet.
                fcntl.flock(fd, fcntl.LOCK_SH)
            except OSError as exc:
                # flock fails where the file system has no locks, and then no cleanup can
                # take the exclusive lock either: publish unlocked rather than not at all.
                logger.warning("publishing without a lock on %s: %s", self._versions, exc)
            yield
        finally:
            os.close(fd)

    def remove_staging_leftovers(self, wait: float = 0.0) -> StagingCleanup:
        """Remove the staging folders of publishes that were killed mid-way.

        Only entries of `versions/` named `.staging-*` that are real folders are
        removed, never a version, never `CURRENT`, and never through a symlink.
        While a publish is in progress nothing is removed (its folder cannot be
        told from a leftover): wait up to `wait` seconds for it, then return
        with `busy` set. An entry that cannot be removed is named in `problems`.
        """
        try:
            fd = os.open(self._versions, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            return StagingCleanup()
        except OSError as exc:
            raise StoreError(f"cannot open {self._versions}: {exc.strerror or exc}") from exc
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return StagingCleanup(busy=True)
                    time.sleep(0.05)
                except OSError as exc:
                    raise StoreError(
                        f"cannot lock {self._versions} ({exc.strerror or exc}), so leftover "
                        f"staging folders cannot be told from those of publishes in progress"
                    ) from exc
            try:
                return _remove_leftovers(fd, self._versions)
            except OSError as exc:
                raise StoreError(f"cannot list {self._versions}: {exc.strerror or exc}") from exc
        finally:
            os.close(fd)

    def promote(self, version: str) -> None:
        """Make `version` the current one, atomically."""
        self.load(version)  # refuse to point at a missing or corrupt version
        tmp = self.root / f".{POINTER_FILE}.{uuid.uuid4().hex}"
        try:
            _write_durably(tmp, f"{version}\n".encode())
            os.replace(tmp, self._pointer)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(self.root)

    def _version_dir(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise VersionNotFound(f"{version!r} is not a version id")
        path = self._versions / version
        if not path.is_dir():
            known = ", ".join(self.versions()[-5:]) or "none"
            raise VersionNotFound(f"no version {version!r} in {self.root} (latest: {known})")
        return path


def _dump_json(data: dict) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, 0o444)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_leftovers(versions_fd: int, versions: Path) -> StagingCleanup:
    """Remove every `.staging-*` folder in the `versions/` folder open as `versions_fd`;
    the caller holds its exclusive lock. Everything is reached through that descriptor,
    and symlinks are never followed."""
    removed: list[Path] = []
    problems: list[str] = []
    with os.scandir(versions_fd) as entries:
        names = sorted(e.name for e in entries if e.name.startswith(_STAGING_PREFIX))
    for name in names:
        path = versions / name
        try:
            mode = os.stat(name, dir_fd=versions_fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            continue  # removed meanwhile, by hand
        except OSError as exc:
            problems.append(f"cannot examine {path}: {exc.strerror or exc}")
            continue
        if not stat.S_ISDIR(mode):
            problems.append(f"{path} is not a folder (a publish makes only folders): left alone")
            continue
        try:
            # Staging folders are made read-only (0o555) before the rename; their files
            # can be unlinked once the folder is writable again.
            folder_fd = os.open(
                name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=versions_fd
            )
            try:
                os.fchmod(folder_fd, 0o700)
            finally:
                os.close(folder_fd)
            shutil.rmtree(name, dir_fd=versions_fd)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.filename and exc.filename != name:
                reason += f" ({exc.filename})"
            problems.append(f"cannot remove leftover staging folder {path}: {reason}")
        else:
            removed.append(path)
    return StagingCleanup(removed=tuple(removed), problems=tuple(problems))


def _log_cleanup(cleanup: StagingCleanup) -> None:
    for path in cleanup.removed:
        logger.info("removed leftover staging folder %s", path)
    for problem in cleanup.problems:
        logger.warning("%s", problem)


def _remove_tree(path: Path) -> None:
    os.chmod(path, 0o755)  # nosec B103 # writable again only to be deleted
    shutil.rmtree(path, ignore_errors=True)
