"""Locust, run headless as the release gate needs it, and its numbers read back.

Every number comes from the final statistics Locust writes as it exits
(--json-file); its CSV files are snapshots up to a second old, kept for people.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

from benchmarks.release_stats import RequestStats
from benchmarks.release_traffic import students_per_request

REPO = Path(__file__).resolve().parent.parent
LOCUSTFILE = REPO / "benchmarks" / "locustfile.py"
CSV_PREFIX = "locust"  # --csv: locust_stats.csv, locust_failures.csv, …
FINAL_JSON = "locust_final"  # --json-file (Locust adds .json)
HTML_REPORT = "report.html"
LOG = "locust.log"
STOP_TIMEOUT_S = 10  # at the end, a request in flight may finish
# Locust itself: 0 every request succeeded, 1 some failed; anything else is its own error.
EXIT_FAILURES = 1


def command(
    url: str, users: int, run_time_s: int, cohort_size: int, report_dir: Path, extra: list[str]
) -> list[str]:
    """Locust's command line for one gate run; `extra` goes last, so it can add or override."""
    options = {
        "--host": url,
        "--users": users,
        "--spawn-rate": users,  # all at once: the run is about the steady state
        "--run-time": f"{run_time_s}s",
        "--stop-timeout": STOP_TIMEOUT_S,
        "--cohort-size": cohort_size,
        "--csv": report_dir / CSV_PREFIX,
        "--html": report_dir / HTML_REPORT,
        "--json-file": report_dir / FINAL_JSON,
    }
    pairs = itertools.chain.from_iterable((name, str(value)) for name, value in options.items())
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    # --reset-stats: statistics restart once every user runs, so ramp-up is not measured.
    return [*locust, "--headless", "--reset-stats", "--only-summary", *pairs, *extra]


def run(command: list[str], report_dir: Path, timeout_s: float) -> int:
    """Run Locust to its end and return its exit code; it never outlives this call."""
    with (report_dir / LOG).open("wb") as log:
        # cwd: the locustfile imports benchmarks.* from the repository root.
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            return process.wait(timeout_s)
        finally:
            if process.poll() is None:  # interrupted, or past the timeout
                process.terminate()  # Locust writes its reports on the way out
                try:
                    process.wait(STOP_TIMEOUT_S + 5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def percentile(histogram: dict[float, int], share: float) -> float:
    """Nearest-rank percentile of Locust's {response time ms: count} histogram."""
    total = sum(histogram.values())
    if not total:
        return math.nan
    rank = max(1, math.ceil(share * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


def read_stats(report_dir: Path, cohort_size: int) -> dict[str, RequestStats]:
    """Per request name, from the final statistics Locust wrote at exit (--json-file)."""
    entries = json.loads((report_dir / f"{FINAL_JSON}.json").read_text())
    if not entries:
        return {}
    # One window for every type, so their rates add up to the total.
    start = min(e["start_time"] for e in entries)
    end = max(e["last_request_timestamp"] or e["start_time"] for e in entries)
    seconds = max(end - start, 1e-9)
    stats = {}
    for entry in entries:
        histogram = {float(ms): count for ms, count in entry["response_times"].items()}
        rate = entry["num_requests"] / seconds
        successes = entry["num_requests"] - entry["num_failures"]
        stats[entry["name"]] = RequestStats(
            requests=entry["num_requests"],
            failures=entry["num_failures"],
            requests_per_s=rate,
            students_per_s=successes / seconds * students_per_request(entry["name"], cohort_size),
            p50_ms=percentile(histogram, 0.50),
            p95_ms=percentile(histogram, 0.95),
            p99_ms=percentile(histogram, 0.99),
        )
    return dict(sorted(stats.items()))


def count_load_errors(report_dir: Path) -> int:
    """Exceptions raised in the locustfile itself (Locust's exceptions CSV)."""
    path = report_dir / f"{CSV_PREFIX}_exceptions.csv"
    if not path.exists():
        return 0
    with path.open(newline="") as file:
        return sum(int(row["Count"]) for row in csv.DictReader(file))


def failure_messages(report_dir: Path, limit: int = 10) -> list[tuple[str, int, str]]:
    """(request name, occurrences, error) of the most frequent failures."""
    path = report_dir / f"{CSV_PREFIX}_failures.csv"
    if not path.exists():
        return []
    with path.open(newline="") as file:
        rows = [(r["Name"], int(r["Occurrences"]), r["Error"]) for r in csv.DictReader(file)]
    return sorted(rows, key=lambda r: -r[1])[:limit]
