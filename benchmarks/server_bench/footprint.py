"""What the server costs at rest: its virtual environment on disk and its workers' memory.

The serving venv is measured as the Makefile builds it (requirements.txt plus
the test tools of requirements-test-serving.txt), minus those test tools'
files, which Elastic Beanstalk never installs.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from benchmarks.procfile_server import REPO

TEST_REQUIREMENTS = REPO / "requirements-test-serving.txt"
# What the HTTP floor's app needs: the venv floor is an empty venv plus these.
FLOOR_DISTRIBUTIONS = ("falcon", "gunicorn")


@dataclass(frozen=True)
class VenvSize:
    disk_bytes: int  # allocated blocks, as `du -s` counts them
    apparent_bytes: int  # file lengths, as `du -sb` counts them
    floor_disk_bytes: int  # an empty venv plus FLOOR_DISTRIBUTIONS and their needs
    excluded: tuple[str, ...]  # the test tools left out


def _sizes(paths: Iterable[Path]) -> tuple[int, int]:
    disk = apparent = 0
    for path in paths:
        try:
            stat = path.lstat()
        except FileNotFoundError:
            continue
        disk += stat.st_blocks * 512
        apparent += stat.st_size
    return disk, apparent


def _tree(root: Path) -> Iterable[Path]:
    for folder, _, files in os.walk(root):
        for name in files:
            yield Path(folder, name)


def _requirement_names(path: Path) -> list[str]:
    """Distribution names pinned in a requirements file, not following its -r includes."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line).name for line in lines if line and not line.startswith("-")]


def _distribution_files(dists: dict[str, importlib.metadata.Distribution], name: str) -> set:
    dist = dists[canonicalize_name(name)]
    # normpath, not resolve: a RECORD names files under the venv, symlinks and all.
    return {Path(os.path.normpath(dist.locate_file(f))) for f in dist.files or ()}


def _closure(dists: dict[str, importlib.metadata.Distribution], names: Iterable[str]) -> set[str]:
    """The named distributions and everything they require (extras left out)."""
    todo, seen = [canonicalize_name(n) for n in names], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in dists:
            continue
        seen.add(name)
        for text in dists[name].requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


def venv_size(venv: Path) -> VenvSize:
    venv = Path(os.path.abspath(venv))
    site_packages = next(venv.glob("lib/python*/site-packages"))
    dists = {
        canonicalize_name(d.metadata["Name"]): d
        for d in importlib.metadata.distributions(path=[str(site_packages)])
    }
    excluded = [n for n in _requirement_names(TEST_REQUIREMENTS) if canonicalize_name(n) in dists]
    test_files = set().union(*(_distribution_files(dists, n) for n in excluded))
    serving = [p for p in _tree(venv) if p not in test_files]
    disk, apparent = _sizes(serving)
    # Any venv holds pip, setuptools and the interpreter links: the floor keeps
    # those and the floor app's distributions, and drops every other package.
    other = set(dists) - _closure(dists, FLOOR_DISTRIBUTIONS) - {"pip", "setuptools"}
    other_files = set().union(*(_distribution_files(dists, n) for n in other))
    floor_disk, _ = _sizes(p for p in serving if p not in other_files)
    return VenvSize(disk, apparent, floor_disk, tuple(excluded))


def _kilobytes(path: Path, field: str) -> int | None:
    for line in path.read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return None


def memory_of(pids: Iterable[int]) -> dict[int, dict[str, int | None]]:
    """Per process: VmRSS, and PSS (shared pages split among their users) in bytes.

    A forked worker's RSS counts in full the pages it shares with the master and
    its siblings; PSS says what each worker really adds.
    """
    return {
        pid: {
            "rss": _kilobytes(Path(f"/proc/{pid}/status"), "VmRSS:"),
            "pss": _kilobytes(Path(f"/proc/{pid}/smaps_rollup"), "Pss:"),
        }
        for pid in pids
    }
