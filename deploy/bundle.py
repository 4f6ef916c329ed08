"""python deploy/bundle.py [--out ZIP]: the Elastic Beanstalk source bundle, and nothing else.

The bundle holds what serving needs: Procfile, requirements.txt, server/ (its
Python files and static assets), model_store/'s Python files with CURRENT and
the one version it names, .ebextensions/ and .platform/. Tests, training and
export code, data, benchmarks and other model versions stay out.

The same tree gives the same bytes: entries are sorted and every timestamp and
permission is fixed, so two builds of one commit can be compared with cmp.
Standard library only: CodeBuild runs it before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# model_store/store.py is the one module that knows the store's on-disk format,
# and it needs nothing beyond the standard library.
sys.path.insert(0, str(REPO))
from model_store.store import POINTER_FILE, VERSIONS_DIR, ModelStore, StoreError  # noqa: E402

DEFAULT_OUT = Path("build") / "studypredict-bundle.zip"
TOP_LEVEL_FILES = ("Procfile", "requirements.txt")
SERVER_SUFFIXES = frozenset(
    {".py", ".html", ".css", ".js", ".json", ".svg", ".png", ".ico", ".txt"}
)
# Earliest time a zip entry can carry: the bytes do not depend on checkout time.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class BundleError(Exception):
    """The tree cannot be bundled; the message says what to fix."""


def bundle_files(root: Path) -> list[str]:
    """Paths, relative to `root` and sorted, of every file the bundle holds."""
    for name in TOP_LEVEL_FILES:
        if not (root / name).is_file():
            raise BundleError(f"{root / name} is missing: Elastic Beanstalk needs it")
    if not (root / "server").is_dir():
        raise BundleError(f"{root / 'server'} is missing")
    files = set(TOP_LEVEL_FILES)
    files.update(_server_files(root))
    files.update(_model_store_files(root))
    for folder in (".ebextensions", ".platform"):
        files.update(_regular_files(root, root / folder))
    return sorted(files)


def _server_files(root: Path) -> Iterator[str]:
    for path in _regular_files(root, root / "server"):
        if Path(path).suffix in SERVER_SUFFIXES:
            yield path


def _model_store_files(root: Path) -> Iterator[str]:
    store_root = root / "model_store"
    try:
        # load() also checks the model's SHA-256: a corrupt version is not shipped.
        version = ModelStore(store_root).load().version
    except StoreError as exc:
        raise BundleError(f"cannot bundle without a current, intact model: {exc}") from None
    yield from (
        path.relative_to(root).as_posix() for path in store_root.glob("*.py") if path.is_file()
    )
    yield f"model_store/{POINTER_FILE}"
    yield from _regular_files(root, store_root / VERSIONS_DIR / version)


def _regular_files(root: Path, folder: Path) -> Iterator[str]:
    """Files under `folder`, skipping caches and hidden editor or OS leftovers."""
    if not folder.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
        for name in filenames:
            if name.startswith(".") or name.endswith((".pyc", "~")):
                continue
            path = Path(dirpath) / name
            if path.is_file():
                yield path.relative_to(root).as_posix()


def write_bundle(root: Path, out: Path) -> list[str]:
    """Write the zip to `out` (replacing it) and return the paths it holds."""
    files = bundle_files(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for name in files:
            source = root / name
            entry = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 3  # Unix, so the mode bits below are honoured
            mode = 0o755 if os.access(source, os.X_OK) else 0o644  # hooks must stay executable
            entry.external_attr = (0o100000 | mode) << 16
            bundle.writestr(entry, source.read_bytes(), compresslevel=9)
    os.replace(tmp, out)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python deploy/bundle.py", description=__doc__)
    parser.add_argument(
        "--out", type=Path, help=f"zip to write (default: {DEFAULT_OUT} in the checkout)"
    )
    parser.add_argument(
        "--root", type=Path, default=REPO, help="checkout to bundle (default: this one)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = args.out or root / DEFAULT_OUT
    try:
        files = write_bundle(root, out)
    except BundleError as exc:
        print(f"bundle: {exc}", file=sys.stderr)
        return 1
    size = out.stat().st_size
    print(f"{out}: {len(files)} files, {size} bytes ({size / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
