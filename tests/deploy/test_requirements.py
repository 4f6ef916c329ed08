"""The requirements*.txt locks: what `make lock` makes from requirements*.in.

Each lock is standalone and fully hashed, so pip (Elastic Beanstalk's
included) checks every download; the layers agree on every shared version; the
serving set holds nothing of the training side. Resolving again needs PyPI, so
these check what a stale or hand-edited lock breaks, offline.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
SERVING, TRAIN, TEST_SERVING, DEV = (
    "requirements.txt",
    "requirements-train.txt",
    "requirements-test-serving.txt",
    "requirements-dev.txt",
)
LOCKS = (SERVING, TRAIN, TEST_SERVING, DEV)
# Each upper layer and the lower locks it is compiled against (Makefile, `make lock`).
LOWER_LAYERS = {TRAIN: [SERVING], TEST_SERVING: [SERVING], DEV: [TRAIN, TEST_SERVING]}
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def logical_lines(path: Path) -> list[str]:
    """Requirement lines with their `\\` continuations joined and comments dropped."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = (re.sub(r"(^|\s)#.*", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


def pins(name: str) -> dict[str, str]:
    """{canonical package name: version} of a lock, checking each line as it goes."""
    found: dict[str, str] = {}
    for line in logical_lines(REPO / name):
        pinned = PIN.match(line)
        assert pinned, f"{name}: {line[:80]!r} is not `package==version --hash=…`"
        assert HASH.search(line), f"{name}: {pinned[1]} has no --hash: pip would refuse the file"
        found[canonicalize_name(pinned[1])] = pinned[2]
    return found


def direct_dependencies(name: str) -> set[str]:
    """Canonical names a requirements*.in file asks for, following its -r includes."""
    names: set[str] = set()
    for line in logical_lines(REPO / name):
        if line.startswith("-r "):
            names |= direct_dependencies(line.removeprefix("-r ").strip())
        else:
            names.add(canonicalize_name(Requirement(line).name))
    return names


@pytest.mark.parametrize("lock", LOCKS)
def test_every_package_is_pinned_with_its_hashes(lock):
    assert pins(lock)


@pytest.mark.parametrize("lock", LOCKS)
def test_a_lock_holds_every_direct_dependency_of_its_in_file(lock):
    source = lock.removesuffix(".txt") + ".in"
    missing = direct_dependencies(source) - set(pins(lock))
    assert not missing, f"{source} asks for {sorted(missing)}, absent from {lock}: run make lock"


@pytest.mark.parametrize("upper", sorted(LOWER_LAYERS))
def test_an_upper_layer_installs_the_lower_layers_versions(upper):
    above = pins(upper)
    for lower in LOWER_LAYERS[upper]:
        for package, version in pins(lower).items():
            assert above.get(package) == version, (
                f"{upper} has {package} {above.get(package)}, {lower} has {version}: run make lock"
            )


def test_the_serving_set_holds_nothing_of_the_training_side():
    training_only = direct_dependencies("requirements-train.in") - direct_dependencies(
        "requirements.in"
    )
    assert training_only, "requirements-train.in adds nothing to the serving set"
    assert not training_only & set(pins(SERVING))


def test_every_direct_dependency_says_why_it_is_there():
    for source in Path(REPO).glob("requirements*.in"):
        lines = source.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if not line.strip() or line.startswith(("#", "-r ")):
                continue
            explained = "#" in line or (number > 0 and lines[number - 1].startswith("#"))
            assert explained, f"{source.name}:{number + 1}: {line.strip()!r} has no reason"
