"""The HTTP benchmark, run tiny: every row is printed with a positive ratio to its floor.

No speed is asserted (CI machines are shared). It needs wrk (.ci/run installs
it: apt-get install -y wrk) and the serving venv; nginx for the as-deployed cells.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.launcher import NGINX
from benchmarks.server_bench import PAIR_SPLITS, WrkRun, build_rows, main, make_bodies, plan
from benchmarks.verdict import BENCH_COLUMNS, bench_table, load_thresholds
from model_store.store import DEFAULT_ROOT, ModelStore

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None,
    reason="wrk is not installed; the benchmark smoke test needs it: apt-get install -y wrk",
)


def tiny_run(reports: Path, *options: str) -> tuple[str, Path, str]:
    """(stdout, report folder, log) of one tiny run of the benchmark."""
    command = [
        sys.executable, "-m", "benchmarks.server_bench", "--duration", "1", "--csv-rows", "2000",
        "--rss-predictions", "20000", "--reports-dir", str(reports), *options,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (report_dir,) = reports.iterdir()
    return done.stdout, report_dir, done.stderr


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[str, Path]:
    return tiny_run(tmp_path_factory.mktemp("server-bench"), "--rounds", "1")[:2]


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
    bodies = ("1 student JSON", "1 student JSON, 64 connections", "1,000 students JSON",
              "2,000 students CSV")  # fmt: skip
    for body in bodies:
        for kind in ("HTTP floor", "HTTP + onnxruntime floor", "Server"):
            assert f"{kind}, {body}" in cells
    for option in ("?interval=90, 1 student JSON", "?interval=90, 1,000 students JSON",
                   "?explain=true, 1,000 students JSON"):  # fmt: skip
        assert f"Server {option}" in cells
    assert any(cell.startswith("Worker memory after 20,000 JSON predictions") for cell in cells)


def test_every_ratio_is_a_positive_number(run):
    for row in table_rows(run[0]):
        if not row["Measure"].startswith("skipped"):
            ratio = float(row["Ratio"])
            assert math.isfinite(ratio) and ratio > 0, row


def test_the_as_deployed_cells_stand_on_their_own_floor_or_say_why_not(run):
    rows = {(r["Cell"], r["Measure"]): r for r in table_rows(run[0])}
    if NGINX is None:
        assert rows[("As deployed: nginx → server", "skipped: nginx not installed")]
        return
    for body in ("1 student JSON", "1,000 students JSON"):
        floor = rows[(f"nginx → HTTP floor, {body}", "req/s")]
        served = rows[(f"As deployed: nginx → server, {body}", "students/s")]
        assert served["Floor (same run)"].startswith("nginx + HTTP floor")
        assert float(floor["Ratio"]) > 0


def test_every_target_of_the_thresholds_file_gets_a_verdict(run):
    judged = [r for r in table_rows(run[0]) if r["Target"] != "–"]
    assert {r["Result"] for r in judged} <= {"PASS", "MISS"}
    targets, limits = " ".join(r["Target"] for r in judged), load_thresholds()["server_bench"]
    assert f"≥ {limits['single_share_of_floor']:.0%} of floor" in targets
    assert f"≥ {limits['many_share_of_floor']:.0%} of floor" in targets
    assert f"≤ {limits['worker_rss_mb']:g} MB" in targets
    assert f"≤ {limits['cold_start_s']:g} s" in targets
    assert f"≤ {limits['interval_max_slowdown']:.0%} slower" in targets
    assert f"≤ {limits['explain_max_times']:g}× its time" in targets
    assert f"≤ {limits['drift_max_slowdown']:.0%} slower" in targets


def test_drift_counting_is_judged_against_the_same_server_without_it(run):
    rows = {(r["Cell"], r["Measure"]): r for r in table_rows(run[0])}
    for body in ("1 student JSON", "1,000 students JSON"):
        row = rows[(f"Server, drift counting on, {body}", "CPU-µs/req")]
        assert row["Floor (same run)"].startswith("DRIFT_COUNTS=false ")
        assert row["Result"] in ("PASS", "MISS")
    assert "Drift counting on / off, CPU per pair run side by side: single " in run[0]


def test_drift_countings_ratio_is_the_median_of_its_pairs(run):
    report = json.loads((run[1] / "report.json").read_text())
    rounds, rows = report["wrk_rounds"], {r["cell"]: r for r in report["rows"]}
    for body, label in (("single", "1 student JSON"), ("bulk", "1,000 students JSON")):
        pairs = zip(rounds[f"counted/{body}"], rounds[f"uncounted/{body}"], strict=True)
        ratios = [on["cpu_us"] / off["cpu_us"] for on, off in pairs]
        row = rows[f"Server, drift counting on, {label}"]
        assert row["ratio"] == pytest.approx(statistics.median(ratios))


def test_each_wrk_cell_is_listed_with_its_latencies(run):
    cells = run[0].strip().split("\n\n")[-1]
    assert "| server/single |" in cells and "| server/bulk?explain=true |" in cells
    assert "| server/many |" in cells and "| uncounted/bulk |" in cells
    assert "| counted/bulk |" in cells


def test_cells_chosen_run_alone_every_other_round_reversed(tmp_path):
    chosen = ("--cells", "server/single", "uncounted/single", "--rounds", "2")
    stdout, report_dir, log = tiny_run(tmp_path, *chosen)
    skipped = {"As deployed: nginx → server"} if NGINX is None else set()
    cells = {row["Cell"] for row in table_rows(stdout)}
    assert cells == {"Server, drift counting on, 1 student JSON"} | skipped
    rounds = json.loads((report_dir / "report.json").read_text())["wrk_rounds"]
    pairs = 2 * PAIR_SPLITS  # drift counting off, and on beside it, several times a round
    assert {cell: len(runs) for cell, runs in rounds.items()} == {
        "server/single": 2,
        "uncounted/single": pairs,
        "counted/single": pairs,
    }
    for on, off in zip(rounds["counted/single"], rounds["uncounted/single"], strict=True):
        assert on["rps"] > 0 and off["rps"] > 0 and on["cpu_us"] > 0 and off["cpu_us"] > 0
    order = re.findall(r"round (\d)/2: (\S+)", log)
    assert order[2:] == [("1", "server/single"), ("1", "uncounted/single"),
                         ("2", "uncounted/single"), ("2", "server/single")]  # fmt: skip


def test_an_unknown_cell_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--cells", "server/everything"])
    assert stop.value.code == 2
    assert "invalid choice: 'server/everything'" in capsys.readouterr().err


def test_the_report_holds_the_table_and_raw_wrk_output(run):
    stdout, report_dir = run
    report = json.loads((report_dir / "report.json").read_text())
    assert (report_dir / "table.md").read_text() in stdout
    server_rounds = report["wrk_rounds"]["server/single"]
    assert len(server_rounds) == 1
    assert "Requests/sec" in server_rounds[0]["output"]
    assert {row["result"] for row in report["rows"]} <= {"PASS", "MISS", "–"}


def test_without_nginx_the_as_deployed_row_says_it_was_skipped(tmp_path):
    run = WrkRun(rps=100.0, p50_ms=1.0, p99_ms=2.0, cpu_us=500.0, output="")
    bodies = make_bodies(ModelStore(DEFAULT_ROOT).load().metadata, tmp_path, csv_students=10)
    best = {f"{server}/{body}{query}": run for server, body, query in plan(nginx=False)}
    rows = build_rows(bodies, best, load_thresholds()["server_bench"], nginx=False)
    assert not [row for row in rows if row.cell.startswith("nginx")]
    (skipped,) = [row for row in rows if row.cell.startswith("As deployed")]
    assert skipped.measure == "skipped: nginx not installed"
    assert "| – | – | – |" in bench_table([skipped])  # ratio, target, result
