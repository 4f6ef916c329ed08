"""Every command in README.md runs as written on a fresh clone, and shows what it prints.

The README's fenced `sh` blocks are run in a copy of the repository's tracked files
(a fresh clone, with the installed environments linked in). Calls to the API go to
the real Procfile server on a free loopback port, serving a copy of the committed
store; where a block is followed at once by another fenced block, that block is
the output the command must print.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from benchmarks.launcher import REPO, SERVE_VENV, running
from tests.support.models import copy_committed_store

README = REPO / "README.md"
MAX_README_BYTES = 12 * 1024
README_HOST = "localhost:8000"  # where `make serve` listens; the tests' server is elsewhere
SET_UP = (["make", "serve"], ["make", "test"])  # they install environments: not run here
# Too slow to run in the suite (every candidate: about a minute); its options run instead.
SLOW_STAND_INS = {("make", "train"): "make train ARGS=--help"}
# The clone predates the installed environments, as after `make serve` or `make test`,
# so make does not reinstall them.
CLONE_MTIME = 1_000_000_000
COMMAND_TIMEOUT_S = 120

pytestmark = pytest.mark.skipif(
    not (SERVE_VENV / "bin" / "gunicorn").exists(), reason="no serving venv: run make install"
)


@dataclass(frozen=True)
class Example:
    line: int  # where the sh block starts in README.md, from 1
    commands: str
    output: str | None  # the fenced block shown right after it, if any
    output_language: str


def readme_examples() -> list[Example]:
    fences = [t for t in MarkdownIt("commonmark").parse(README.read_text()) if t.type == "fence"]
    examples = []
    for index, fence in enumerate(fences):
        if fence.info.strip() != "sh":
            continue
        after = fences[index + 1] if index + 1 < len(fences) else None
        shown = after is not None and after.info.strip() != "sh" and after.map[0] == fence.map[1]
        examples.append(
            Example(
                line=fence.map[0] + 1,
                commands=fence.content,
                output=after.content if shown else None,
                output_language=after.info.strip() if shown else "",
            )
        )
    return examples


def words_of(line: str) -> list[str]:
    """A line's words without its comment; none for a line inside a quoted argument."""
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # an open quote: the line continues an argument
        return []


def command_lines(commands: str) -> list[list[str]]:
    return [words for line in commands.splitlines() if (words := words_of(line))]


def is_set_up(example: Example) -> bool:
    return all(words in SET_UP for words in command_lines(example.commands))


EXAMPLES = readme_examples()
RUNNABLE = [example for example in EXAMPLES if not is_set_up(example)]


def with_slow_stand_ins(commands: str) -> str:
    lines = []
    for line in commands.splitlines():
        lines.append(SLOW_STAND_INS.get(tuple(words_of(line)), line))
    return "\n".join(lines) + "\n"


def make_dry_run(clone: Path, target: str) -> subprocess.CompletedProcess:
    """`make -n TARGET`: succeeds only for a target the Makefile has; runs nothing."""
    return subprocess.run(
        ["make", "-n", target], cwd=clone, env=clean_environment(), capture_output=True, text=True
    )


def clean_environment() -> dict[str, str]:
    """The caller's environment without what a developer's shell would not carry."""
    environment = dict(os.environ)
    for name in ("MODEL_STORE_DIR", "MODEL_VERSION", "PORT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        environment.pop(name, None)
    return environment


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The tracked files as they are in the worktree, as a fresh clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    )
    root = tmp_path_factory.mktemp("clone")
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO / name
        if not source.is_file():
            continue  # deleted in the worktree, not yet in the index
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        os.utime(target, (CLONE_MTIME, CLONE_MTIME))
    for venv in (".venv", ".venv-serve"):
        (root / venv).symlink_to((REPO / venv).resolve())
    return root


@pytest.fixture(scope="module")
def server_port(tmp_path_factory) -> Iterator[int]:
    """The Procfile server on a copy of the committed store's current version."""
    store = copy_committed_store(tmp_path_factory.mktemp("store"))
    log = tmp_path_factory.mktemp("server") / "server.log"
    # The launcher hands Gunicorn a socket it bound itself: no other process can take the port.
    with running(log, {"MODEL_STORE_DIR": str(store.root)}, venv=SERVE_VENV) as server:
        server.wait_ready()
        yield server.port


def run(commands: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )


def test_the_readme_is_a_door_not_the_house():
    assert README.stat().st_size <= MAX_README_BYTES


def test_every_call_to_the_server_shows_its_answer():
    calls = [example for example in EXAMPLES if "curl" in example.commands]
    assert calls, "README.md shows no call to the server"
    for example in calls:
        assert README_HOST in example.commands, f"line {example.line}: not {README_HOST}"
        assert example.output is not None, f"line {example.line}: no output shown after it"


@pytest.mark.parametrize("target", ["serve", "test"])
def test_the_set_up_commands_are_shown_and_are_makefile_targets(clone, target):
    assert any(["make", target] in command_lines(e.commands) for e in EXAMPLES)
    made = make_dry_run(clone, target)
    assert made.returncode == 0, made.stderr


def test_every_make_target_the_readme_names_exists(clone):
    targets = set(re.findall(r"(?:^|`)make ([a-z][\w-]*)", README.read_text(), re.MULTILINE))
    assert targets >= {"serve", "test"}
    for target in sorted(targets):
        made = make_dry_run(clone, target)
        assert made.returncode == 0, f"make {target}: {made.stderr}"


@pytest.mark.parametrize("example", RUNNABLE, ids=lambda example: f"line-{example.line}")
def test_the_command_runs_as_written_and_prints_what_is_shown(example, clone, request):
    commands = with_slow_stand_ins(example.commands)
    if README_HOST in commands:
        port = request.getfixturevalue("server_port")
        commands = commands.replace(README_HOST, f"localhost:{port}")
    done = run(commands, clone)
    assert done.returncode == 0, f"README.md line {example.line}:\n{commands}\n{done.stderr}"
    if example.output is None:
        return
    if example.output_language == "json":
        assert json.loads(done.stdout) == json.loads(example.output)
    else:
        assert done.stdout.splitlines() == example.output.splitlines()


def test_every_file_the_readme_links_to_is_in_the_clone(clone):
    tokens = MarkdownIt("commonmark").parse(README.read_text())
    inline = [child for token in tokens for child in token.children or []]
    targets = [
        t.attrGet("href") or t.attrGet("src") for t in inline if t.type in ("link_open", "image")
    ]
    local = [str(t).partition("#")[0] for t in targets if "://" not in str(t)]
    assert local, "README.md links to no file of the repository"
    for target in local:
        assert (clone / target).is_file(), f"README.md links to {target}, which a clone lacks"
