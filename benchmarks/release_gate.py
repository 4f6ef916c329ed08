"""The release gate: the real traffic mix under Locust, then go or no-go.

    python -m benchmarks.release_gate                      # start the Procfile server here
    python -m benchmarks.release_gate --url https://staging.example.com
    python -m benchmarks.release_gate --record-baseline    # accept this run if it is a go
    python -m benchmarks.release_gate -- --processes 2     # anything after -- goes to Locust

Writes benchmarks/reports/release-<timestamp>-*/: Locust's report.html and CSV files,
summary.md (the table and the verdict) and run.json. Exit status: 0 go, 1 no-go, 2 the
gate could not run (the server did not start, Locust did not report). See
docs/release-gate.md.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np

from benchmarks.launcher import REPO, SERVE_VENV, ServerError, running
from benchmarks.traffic import DEFAULT_COHORT_SIZE, fetch_model_info, students_per_request
from benchmarks.verdict import (
    RequestStats,
    RunStats,
    arguments,
    judge,
    load_thresholds,
    release_summary,
    report_dir,
)

HERE = Path(__file__).resolve().parent
# Sized for a 2-core machine that also runs the server: enough users to keep both
# Gunicorn workers busy, few enough that the load generator stays under one core.
DEFAULT_USERS, DEFAULT_RUN_TIME_S = 16, 60
LOCUST_GRACE_S = 120  # past the run time, for start-up and reports, before it counts as hung
STOP_TIMEOUT_S = 10  # at the end, a request in flight may finish
CSV_PREFIX, FINAL_JSON, HTML_REPORT, LOG = "locust", "locust_final", "report.html", "locust.log"
# Locust's own exit codes: 0 every request succeeded, 1 some failed; others are its errors.
EXIT_FAILURES = 1
EXIT_GO, EXIT_NO_GO, EXIT_CANNOT_RUN = 0, 1, 2
FORMAT_VERSION = 1  # of run.json and baseline.json (the same format: accepting is copying)


class GateError(Exception):
    """The gate could not run; the message says why."""


def parse_args(argv: Sequence[str] | None):
    parser = arguments("benchmarks.release_gate", __doc__)
    add = parser.add_argument
    add("--url", help="benchmark this server instead of starting the Procfile's")
    add("--users", type=int, default=DEFAULT_USERS, help="concurrent Locust users")
    add("--run-time", type=int, default=DEFAULT_RUN_TIME_S, metavar="SECONDS")
    add("--cohort-size", type=int, default=DEFAULT_COHORT_SIZE, help="students per bulk request")
    add("--thresholds", type=Path, default=HERE / "thresholds.toml")
    add("--baseline", type=Path, default=HERE / "baseline.json")
    add("--no-baseline", action="store_true", help="do not compare throughput")
    add("--record-baseline", action="store_true", help="after a go, save this run as --baseline")
    add("locust_args", nargs="*", help="after --: more arguments for Locust")
    args = parser.parse_args(argv)
    if min(args.users, args.run_time, args.cohort_size) < 1:
        parser.error("--users, --run-time and --cohort-size must be at least 1")
    return args


def conditions(args) -> dict:
    """What makes two runs' throughput comparable."""
    workers = os.environ.get("WEB_CONCURRENCY", "unset")
    return {
        "target": args.url or f"the Procfile's server on this machine (WEB_CONCURRENCY {workers})",
        "users": args.users, "run_time_s": args.run_time, "cohort_size": args.cohort_size,
        "cpu_count": os.cpu_count(), "locust_args": shlex.join(args.locust_args),
    }  # fmt: skip


def save(run: RunStats, path: Path) -> None:
    data = {"format": FORMAT_VERSION, **asdict(run)}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def load(path: Path) -> RunStats:
    """A run.json or baseline.json; ValueError if it is not one."""
    data = json.loads(path.read_text())
    if data.pop("format", None) != FORMAT_VERSION:
        raise ValueError(f"{path}: not format {FORMAT_VERSION} of a run's numbers")
    try:
        by_type = {name: RequestStats(**s) for name, s in data.pop("by_type").items()}
        return RunStats(by_type=by_type, **data)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: {exc!r}") from None


def run_locust(args, url: str, folder: Path) -> int:
    """Locust's exit code; it never outlives this call (killed on a timeout or an
    interrupt). `args.locust_args` go last, so they can add or override."""
    options = {
        "--host": url, "--users": args.users,
        "--spawn-rate": args.users,  # all at once: the run is about the steady state
        "--run-time": f"{args.run_time}s", "--stop-timeout": STOP_TIMEOUT_S,
        "--cohort-size": args.cohort_size, "--csv": folder / CSV_PREFIX,
        "--html": folder / HTML_REPORT, "--json-file": folder / FINAL_JSON,
    }  # fmt: skip
    pairs = [str(word) for pair in options.items() for word in pair]
    # --reset-stats: statistics restart once every user runs, so ramp-up is not measured.
    command = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
               "--reset-stats", "--only-summary", *pairs, *args.locust_args]  # fmt: skip
    with (folder / LOG).open("wb") as log:
        return subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              timeout=args.run_time + LOCUST_GRACE_S).returncode  # fmt: skip


def percentiles(histogram: dict[str, int]) -> list[float]:
    """Nearest-rank p50, p95 and p99 of Locust's {response time ms: count} histogram."""
    times = np.repeat([float(ms) for ms in histogram], list(histogram.values()))
    if not times.size:
        return [float("nan")] * 3
    return np.percentile(times, [50, 95, 99], method="inverted_cdf").tolist()


def read_stats(folder: Path, cohort_size: int) -> dict[str, RequestStats]:
    """Per request name, from the final statistics Locust writes as it exits (--json-file;
    its CSV files are snapshots up to a second old, kept for people)."""
    entries = json.loads((folder / f"{FINAL_JSON}.json").read_text())
    # One window for every type, so their rates add up to the total.
    start = min((e["start_time"] for e in entries), default=0)
    end = max((e["last_request_timestamp"] or e["start_time"] for e in entries), default=0)
    seconds = max(end - start, 1e-9)
    stats = {}
    for e in sorted(entries, key=lambda e: e["name"]):
        answered = e["num_requests"] - e["num_failures"]
        scored = answered * students_per_request(e["name"], cohort_size)
        stats[e["name"]] = RequestStats(e["num_requests"], e["num_failures"],
                                        e["num_requests"] / seconds, scored / seconds,
                                        *percentiles(e["response_times"]))  # fmt: skip
    return stats


def csv_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text().splitlines())) if path.exists() else []


def git(*words: str) -> str:
    return subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True).stdout.strip()


def measure(args, folder: Path) -> RunStats:
    """Start the server unless given a URL, run the load, stop everything, read the numbers."""
    changed = "+changes" * bool(git("status", "--porcelain", "--untracked-files=no"))
    info = {"started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "commit": (git("rev-parse", "--short", "HEAD") or "unknown") + changed,
            "locust_version": version("locust")}  # fmt: skip
    with ExitStack() as stack:
        url = args.url and args.url.rstrip("/")
        if not url:  # its log is the report's server.log
            server = stack.enter_context(running(folder / "server.log", venv=SERVE_VENV))
            server.wait_ready()  # not just listening: a worker has loaded the model
            url = server.url
        try:
            info["model_version"] = fetch_model_info(url)["version"]
        except (OSError, ValueError, KeyError) as exc:
            raise GateError(f"cannot read the served model from {url}/model: {exc!r}") from None
        print(f"release gate: {args.users} users for {args.run_time} s against {url} (model "
              f"{info['model_version']}); report in {folder}", flush=True)  # fmt: skip
        try:
            exit_code = run_locust(args, url, folder)
        except subprocess.TimeoutExpired:
            raise GateError(f"Locust did not finish; see {folder / LOG}") from None
    if not (folder / f"{FINAL_JSON}.json").exists():
        raise GateError(f"Locust exited with code {exit_code} without its statistics; "
                        f"see {folder / LOG}")  # fmt: skip
    by_type = read_stats(folder, args.cohort_size)
    errors = sum(int(r["Count"]) for r in csv_rows(folder / f"{CSV_PREFIX}_exceptions.csv"))
    if exit_code == EXIT_FAILURES and not any(s.failures for s in by_type.values()):
        errors = max(errors, 1)  # Locust saw an error that is not a failed request
    failures = [(r["Name"], int(r["Occurrences"]), r["Error"])
                for r in csv_rows(folder / f"{CSV_PREFIX}_failures.csv")]  # fmt: skip
    info["failure_messages"] = sorted(failures, key=lambda r: -r[1])[:10]
    return RunStats(conditions(args), by_type, errors, exit_code, info)


def _stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`: nothing is left running


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        thresholds = load_thresholds(args.thresholds)
        use_baseline = not args.no_baseline and args.baseline.exists()
        baseline = load(args.baseline) if use_baseline else None
        folder = report_dir(args.reports_dir, "release")
        run = measure(args, folder)
    except KeyboardInterrupt:
        print("release gate: interrupted; the server and Locust are stopped", file=sys.stderr)
        return 130
    except (GateError, ServerError, ValueError, OSError) as exc:
        print(f"release gate: cannot run: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    verdict = judge(run, thresholds, baseline)
    save(run, folder / "run.json")
    summary = release_summary(run, verdict, thresholds, baseline)
    (folder / "summary.md").write_text(summary)
    print(f"{summary}\nreport: {folder / 'summary.md'}, {folder / HTML_REPORT}")
    if args.record_baseline and verdict.go:
        save(run, args.baseline)
        print(f"baseline recorded: {args.baseline} (commit it with the release)")
    elif args.record_baseline:
        print(f"baseline NOT recorded: a no-go run cannot be the baseline ({args.baseline} "
              "unchanged)")  # fmt: skip
    return EXIT_GO if verdict.go else EXIT_NO_GO


if __name__ == "__main__":
    sys.exit(main())
