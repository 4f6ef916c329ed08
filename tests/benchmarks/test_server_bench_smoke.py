"""The HTTP benchmark, run tiny: every row is printed with a positive ratio to its floor.

No speed is asserted (CI machines are shared). It needs wrk (.ci/run installs
it: apt-get install -y wrk), the serving venv and Flask in this one.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.server_bench.report import COLUMNS

REPO = Path(__file__).resolve().parents[2]
VS_MODEL_FLOOR = "req/s vs HTTP + onnxruntime floor"
# (cell without its parenthesised detail, measure), in table order.
EXPECTED_ROWS = [
    ("HTTP floor, 1 student JSON", "req/s"),
    ("HTTP floor, 1,000 students bulk", "req/s"),
    ("HTTP floor, 2,000 students csv", "req/s"),
    ("HTTP + onnxruntime floor, 1 student JSON", "req/s"),
    ("HTTP + onnxruntime floor, 1,000 students bulk", "req/s"),
    ("HTTP + onnxruntime floor, 2,000 students csv", "req/s"),
    ("Compute floor, 1 student JSON", "CPU-µs per call, 1 core"),
    ("Compute floor, 1,000 students bulk", "CPU-µs per call, 1 core"),
    ("Compute floor, 2,000 students csv", "CPU-µs per call, 1 core"),
    ("Server, 1 student JSON", "req/s"),
    ("Server, 1 student JSON", "p99 ms"),
    ("Server, 1,000 students bulk", "students/s"),
    ("Server, 1 student JSON", "server CPU-µs/req (ratio: floor ÷ this)"),
    ("Server, 1,000 students bulk", "server CPU-µs/req (ratio: floor ÷ this)"),
    ("Server, 1 student JSON", VS_MODEL_FLOOR),
    ("Server, 1,000 students bulk", VS_MODEL_FLOOR),
    ("Server, 2,000 students csv", VS_MODEL_FLOOR),
    ("Server, 2,000 students csv", "students/s"),
    ("Reference: Flask, pickle + pandas per request, 1 student", "req/s"),
    ("Speed-up over the reference, 1 student", "× req/s"),
    ("Worker memory after 20,000 JSON predictions", "VmRSS MB per worker"),
    ("… then 6,000 CSV students more", "VmRSS MB per worker"),
    ("Serving venv", "MB on disk"),
    ("Cold start: Procfile command → first 200 on /predictdata", "s"),
    ("Server, ORT threads=2, 1 student JSON", "req/s"),
    ("Server, ORT threads=2, 1 student JSON", "p99 ms"),
    ("Server, ORT threads=2, 1,000 students bulk", "students/s"),
    ("Server, ORT threads=2, 1 student JSON", "server CPU-µs/req (ratio: floor ÷ this)"),
    ("Server, ORT threads=2, 1,000 students bulk", "server CPU-µs/req (ratio: floor ÷ this)"),
    ("Server, ORT threads=2, 1 student JSON", VS_MODEL_FLOOR),
    ("Server, ORT threads=2, 1,000 students bulk", VS_MODEL_FLOOR),
]

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
        "--csv-rows", "2000", "--rss-predictions", "20000", "--threads-sweep",
        "--report-dir", str(report_dir),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, report_dir


def table_rows(markdown: str) -> list[dict[str, str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    split = (ln.strip("|").split("|") for ln in lines[1:])
    return [dict(zip(header, (c.strip() for c in cells), strict=True)) for cells in split]


def test_the_table_has_every_row(run):
    rows = table_rows(run[0])
    assert list(rows[0]) == list(COLUMNS)
    cells = [(re.sub(r" \(.*\)$", "", r["Cell"]), r["Measure"]) for r in rows]
    assert cells == EXPECTED_ROWS


def test_every_ratio_is_a_positive_number(run):
    for row in table_rows(run[0]):
        ratio = float(row["Ratio"])
        assert math.isfinite(ratio) and ratio > 0, row


def test_every_target_gets_a_verdict(run):
    judged = [r for r in table_rows(run[0]) if r["Target"] != "-"]
    assert judged and {r["Result"] for r in judged} <= {"PASS", "MISS"}


def test_the_report_holds_the_table_and_raw_wrk_output(run):
    stdout, report_dir = run
    report = json.loads((report_dir / "report.json").read_text())
    assert report["table"] in stdout
    server_rounds = report["wrk_rounds"]["server/single"]
    assert len(server_rounds) == 1
    assert "Requests/sec" in server_rounds[0]["output"]
    assert (report_dir / "table.md").read_text() == report["table"]
