"""CodeBuild runs the README's test command, packages the bundle, and hands over its contents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BUILDSPEC = REPO / "buildspec.yml"
README = REPO / "README.md"
BUNDLE = "build/studypredict-bundle.zip"  # deploy/bundle.py's default output
FENCED_BLOCK = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.fixture(scope="module")
def buildspec() -> dict:
    return yaml.safe_load(BUILDSPEC.read_text(encoding="utf-8"))


def commands(buildspec: dict, phase: str) -> list[str]:
    return [c.strip() for c in buildspec["phases"].get(phase, {}).get("commands", [])]


def readme_test_command() -> str:
    """The command in the README's fenced block that runs the tests."""
    if not README.is_file():
        pytest.skip("README.md does not exist yet: nothing to compare the test command with")
    for block in FENCED_BLOCK.findall(README.read_text(encoding="utf-8")):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("make test"):
                return line
    pytest.fail("README.md has no fenced block with a `make test` command")


def test_buildspec_is_version_0_2_on_python_3_11(buildspec):
    assert str(buildspec["version"]) == "0.2"
    assert str(buildspec["phases"]["install"]["runtime-versions"]["python"]) == "3.11"


def test_build_phase_runs_make_test_and_aborts_on_failure(buildspec):
    assert "make test" in commands(buildspec, "build")
    assert buildspec["phases"]["build"].get("on-failure") == "ABORT"


def test_build_runs_the_same_test_command_as_the_readme(buildspec):
    assert readme_test_command() in commands(buildspec, "install") + commands(buildspec, "build")


def test_post_build_packages_the_bundle(buildspec):
    assert "make bundle" in commands(buildspec, "post_build")


def test_artifact_is_the_bundle_unpacked_not_the_zip(buildspec):
    # CodePipeline zips the artifact itself; Elastic Beanstalk deploys that zip.
    artifacts = buildspec["artifacts"]
    unpacked = artifacts["base-directory"]
    assert any(BUNDLE in c and unpacked in c for c in commands(buildspec, "post_build"))
    assert artifacts["files"] == ["**/*"]
    assert not artifacts.get("discard-paths")
