"""The HTTP benchmark, run tiny: every row is printed with a positive ratio to its floor.

No speed is asserted (CI machines are shared). It needs wrk (.ci/run installs
it: apt-get install -y wrk), the serving venv and Flask in this one.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.verdict import BENCH_COLUMNS, load_thresholds

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None,
    reason="wrk is not installed; the benchmark smoke test needs it: apt-get install -y wrk",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[str, Path]:
    """(stdout, report folder) of one tiny run of the whole benchmark."""
    report_dir = tmp_path_factory.mktemp("server-bench")
    command = [
        sys.executable, "-m", "benchmarks.server_bench", "--duration", "1", "--rounds", "1",
        "--csv-rows", "2000", "--rss-predictions", "20000", "--threads", "2",
        "--report-dir", str(report_dir),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, report_dir


def table_rows(markdown: str) -> list[dict[str, str]]:
    """The first table's rows (the second gives each wrk cell in full)."""
    first = markdown.split("\n\n", 1)[0]
    lines = [line for line in first.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    split = (line.strip("|").split("|") for line in lines[2:])  # past the alignment row
    return [dict(zip(header, (c.strip() for c in cells), strict=True)) for cells in split]


def test_every_body_has_its_floors_and_each_servers_rows(run):
    rows = table_rows(run[0])
    assert list(rows[0]) == list(BENCH_COLUMNS)
    cells = {row["Cell"] for row in rows}
    for body in ("1 student JSON", "1,000 students bulk", "2,000 students csv"):
        for kind in ("HTTP floor", "HTTP + onnxruntime floor", "Server", "Server, ORT threads=2"):
            assert f"{kind}, {body}" in cells
    assert "Server, 1 student JSON: speed-up over the reference" in cells
    assert any(cell.startswith("Worker memory after 20,000 JSON predictions") for cell in cells)


def test_every_ratio_is_a_positive_number(run):
    for row in table_rows(run[0]):
        ratio = float(row["Ratio"])
        assert math.isfinite(ratio) and ratio > 0, row


def test_every_target_of_the_thresholds_file_gets_a_verdict(run):
    judged = [r for r in table_rows(run[0]) if r["Target"] != "-"]
    assert {r["Result"] for r in judged} <= {"PASS", "MISS"}
    targets, limits = " ".join(r["Target"] for r in judged), load_thresholds().server_bench
    assert f"≥ {limits['single_share_of_floor']:.0%} of floor" in targets
    assert f"≤ {limits['worker_rss_mb']:g} MB" in targets
    assert f"≤ {limits['cold_start_s']:g} s" in targets


def test_each_wrk_cell_is_listed_with_its_latencies(run):
    cells = run[0].strip().split("\n\n")[-1]
    assert "| server/single |" in cells and "| reference/single |" in cells


def test_the_report_holds_the_table_and_raw_wrk_output(run):
    stdout, report_dir = run
    report = json.loads((report_dir / "report.json").read_text())
    assert report["table"] in stdout
    server_rounds = report["wrk_rounds"]["server/single"]
    assert len(server_rounds) == 1
    assert "Requests/sec" in server_rounds[0]["output"]
    assert (report_dir / "table.md").read_text() == report["table"]
