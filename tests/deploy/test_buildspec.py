"""CodeBuild runs what CI runs (.ci/run: the README's test command with every tool it drives),
packages the bundle, and hands over its contents."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BUILDSPEC = REPO / "buildspec.yml"
CI_RUN = REPO / ".ci" / "run"
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


def ci_run_commands() -> list[str]:
    return [
        line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def test_buildspec_is_version_0_2_with_python_3_11(buildspec):
    assert str(buildspec["version"]) == "0.2"
    # A custom (Debian) image: CodeBuild refuses runtime-versions there.
    assert "runtime-versions" not in buildspec["phases"]["install"]
    assert "python3.11 --version" in commands(buildspec, "install")


def test_build_phase_runs_what_ci_runs_and_aborts_on_failure(buildspec):
    assert "bash .ci/run" in commands(buildspec, "build")
    assert buildspec["phases"]["build"].get("on-failure") == "ABORT"


def test_the_build_is_ci_so_missing_tools_fail_instead_of_skipping(buildspec):
    assert buildspec["env"]["variables"]["CI"] == "true"


def test_ci_runs_the_same_test_command_as_the_readme():
    assert readme_test_command() in ci_run_commands()


def run_ci_with(tmp_path: Path, tools: list[str]) -> tuple[subprocess.CompletedProcess, str]:
    """.ci/run with only `tools` on PATH and no package manager; `make` records its targets."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", *tools):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    made = tmp_path / "made"
    (bin_dir / "make").write_text(f'#!/bin/sh\necho "$*" >> {made}\n')
    (bin_dir / "make").chmod(0o755)
    bash = shutil.which("bash")
    result = subprocess.run(
        [bash, str(CI_RUN)],
        env={"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/root")},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result, made.read_text() if made.exists() else ""


@pytest.mark.skipif(
    not (shutil.which("wrk") and shutil.which("unzip") and Path("/usr/bin/chromium").exists()),
    reason="needs wrk, unzip and Chromium installed (.ci/run installs them)",
)
def test_ci_runs_the_suite_and_the_soak_when_every_tool_is_there(tmp_path):
    result, made = run_ci_with(tmp_path, ["wrk", "unzip"])
    assert result.returncode == 0, result.stderr
    assert made.split("\n")[:2] == ["test", "soak"]


@pytest.mark.skipif(not shutil.which("unzip"), reason="needs unzip")
def test_ci_stops_before_the_suite_when_a_tool_cannot_be_installed(tmp_path):
    result, made = run_ci_with(tmp_path, ["unzip"])  # no wrk, no apt-get or dnf
    assert result.returncode == 1
    assert "not installed: wrk" in result.stderr
    assert made == "", "the suite ran without wrk: its smoke test would have skipped"


def test_ci_stops_without_the_tools_the_skipping_tests_need():
    # The wrk smoke test, the browser tests and the nginx tests skip without
    # their tool; .ci/run installs each and exits before `make test` if absent.
    text = CI_RUN.read_text(encoding="utf-8")
    check = text.index("absent=()")
    assert check < text.index("\nmake test")
    for tool in ("wrk", "CHROMIUM", "NGINX"):
        assert re.search(rf"\b{tool}\b", text[check : text.index("exit 1", check)]), tool
    assert "/usr/bin/chromium" in text and "/usr/sbin/nginx" in text


def test_post_build_packages_the_bundle(buildspec):
    assert "make bundle" in commands(buildspec, "post_build")


def test_artifact_is_the_bundle_unpacked_not_the_zip(buildspec):
    # CodePipeline zips the artifact itself; Elastic Beanstalk deploys that zip.
    artifacts = buildspec["artifacts"]
    unpacked = artifacts["base-directory"]
    assert any(BUNDLE in c and unpacked in c for c in commands(buildspec, "post_build"))
    assert artifacts["files"] == ["**/*"]
    assert not artifacts.get("discard-paths")
