"""The release gate: the real traffic mix under Locust, then go or no-go.

    python -m benchmarks.release_gate                      # start the Procfile server here
    python -m benchmarks.release_gate --url https://staging.example.com
    python -m benchmarks.release_gate --record-baseline    # accept this run if it is a go
    python -m benchmarks.release_gate -- --processes 2     # anything after -- goes to Locust

Writes benchmarks/reports/<timestamp>/: Locust's report.html and CSV files, summary.md
(the table and the verdict) and run.json. Exit status: 0 go, 1 no-go, 2 the gate could
not run (the server did not start, Locust did not report). See "Release benchmarks" in README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from benchmarks.launcher import REPO, SERVE_VENV, ServerError, running
from benchmarks.traffic import DEFAULT_COHORT_SIZE, fetch_model_info, students_per_request
from benchmarks.verdict import RequestStats, RunStats, judge, load_thresholds
from benchmarks.verdict import release_summary as render

HERE = Path(__file__).resolve().parent
BASELINE, REPORTS = HERE / "baseline.json", HERE / "reports"
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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.release_gate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--url", help="benchmark this server instead of starting the Procfile's")
    add("--users", type=int, default=DEFAULT_USERS, help="concurrent Locust users")
    add("--run-time", type=int, default=DEFAULT_RUN_TIME_S, metavar="SECONDS")
    add("--cohort-size", type=int, default=DEFAULT_COHORT_SIZE, help="students per bulk request")
    add("--thresholds", type=Path, default=HERE / "thresholds.toml")
    add("--baseline", type=Path, default=BASELINE)
    add("--no-baseline", action="store_true", help="do not compare throughput")
    add("--record-baseline", action="store_true", help="after a go, save this run as --baseline")
    add("--reports-dir", type=Path, default=REPORTS)
    add("locust_args", nargs="*", help="after --: more arguments for Locust")
    args = parser.parse_args(argv)
    if min(args.users, args.run_time, args.cohort_size) < 1:
        parser.error("--users, --run-time and --cohort-size must be at least 1")
    return args


def conditions(args: argparse.Namespace) -> dict:
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
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: format {data.get('format')!r}, expected {FORMAT_VERSION}")
    by_type = {name: RequestStats(**s) for name, s in data.pop("by_type").items()}
    data.pop("format")
    return RunStats(by_type=by_type, **data)


def locust_command(args: argparse.Namespace, url: str, report_dir: Path) -> list[str]:
    """`args.locust_args` go last, so they can add or override."""
    options = {
        "--host": url, "--users": args.users,
        "--spawn-rate": args.users,  # all at once: the run is about the steady state
        "--run-time": f"{args.run_time}s", "--stop-timeout": STOP_TIMEOUT_S,
        "--cohort-size": args.cohort_size, "--csv": report_dir / CSV_PREFIX,
        "--html": report_dir / HTML_REPORT, "--json-file": report_dir / FINAL_JSON,
    }  # fmt: skip
    pairs = [str(word) for pair in options.items() for word in pair]
    # --reset-stats: statistics restart once every user runs, so ramp-up is not measured.
    return [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
            "--reset-stats", "--only-summary", *pairs, *args.locust_args]  # fmt: skip


def run_locust(command: list[str], report_dir: Path, timeout_s: float) -> int:
    """Locust's exit code; it never outlives this call."""
    with (report_dir / LOG).open("wb") as log:
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
    rank, seen = max(1, math.ceil(share * sum(histogram.values()))), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return math.nan  # an empty histogram


def read_stats(report_dir: Path, cohort_size: int) -> dict[str, RequestStats]:
    """Per request name, from the final statistics Locust writes as it exits (--json-file;
    its CSV files are snapshots up to a second old, kept for people)."""
    entries = json.loads((report_dir / f"{FINAL_JSON}.json").read_text())
    if not entries:
        return {}
    # One window for every type, so their rates add up to the total.
    start = min(e["start_time"] for e in entries)
    seconds = max(max(e["last_request_timestamp"] or e["start_time"] for e in entries) - start,
                  1e-9)  # fmt: skip
    stats = {}
    for e in entries:
        histogram = {float(ms): count for ms, count in e["response_times"].items()}
        per_request = students_per_request(e["name"], cohort_size)
        stats[e["name"]] = RequestStats(
            e["num_requests"], e["num_failures"], e["num_requests"] / seconds,
            (e["num_requests"] - e["num_failures"]) / seconds * per_request,
            *(percentile(histogram, p) for p in (0.50, 0.95, 0.99)),
        )  # fmt: skip
    return dict(sorted(stats.items()))


def csv_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text()))) if path.exists() else []


def git(*words: str) -> str:
    return subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True).stdout.strip()


def measure(args: argparse.Namespace, report_dir: Path) -> RunStats:
    """Start the server unless given a URL, run the load, stop everything, read the numbers."""
    changed = "+changes" * bool(git("status", "--porcelain", "--untracked-files=no"))
    info = {"started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "commit": (git("rev-parse", "--short", "HEAD") or "unknown") + changed,
            "locust_version": version("locust")}  # fmt: skip
    with ExitStack() as stack:
        url = args.url and args.url.rstrip("/")
        if not url:  # its log is the report's server.log
            server = stack.enter_context(running(report_dir / "server.log", venv=SERVE_VENV))
            server.wait_ready()  # not just listening: a worker has loaded the model
            url = server.url
        try:
            info["model_version"] = fetch_model_info(url)["version"]
        except (OSError, ValueError, KeyError) as exc:
            raise GateError(f"cannot read the served model from {url}/model: {exc!r}") from None
        print(f"release gate: {args.users} users for {args.run_time} s against {url} (model "
              f"{info['model_version']}); report in {report_dir}", flush=True)  # fmt: skip
        try:
            command = locust_command(args, url, report_dir)
            exit_code = run_locust(command, report_dir, args.run_time + LOCUST_GRACE_S)
        except subprocess.TimeoutExpired:
            raise GateError(f"Locust did not finish; see {report_dir / LOG}") from None
    if not (report_dir / f"{FINAL_JSON}.json").exists():
        raise GateError(f"Locust exited with code {exit_code} without its statistics; "
                        f"see {report_dir / LOG}")  # fmt: skip
    by_type = read_stats(report_dir, args.cohort_size)
    errors = sum(int(r["Count"]) for r in csv_rows(report_dir / f"{CSV_PREFIX}_exceptions.csv"))
    if exit_code == EXIT_FAILURES and not any(s.failures for s in by_type.values()):
        errors = max(errors, 1)  # Locust saw an error that is not a failed request
    failures = [(r["Name"], int(r["Occurrences"]), r["Error"])
                for r in csv_rows(report_dir / f"{CSV_PREFIX}_failures.csv")]  # fmt: skip
    info["failure_messages"] = sorted(failures, key=lambda r: -r[1])[:10]
    return RunStats(conditions(args), by_type, errors, exit_code, info)


def _stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`: nothing is left running


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        thresholds = load_thresholds(args.thresholds)
        baseline = None
        if not args.no_baseline and args.baseline.exists():
            try:
                baseline = load(args.baseline)
            except (ValueError, KeyError, TypeError) as exc:
                raise GateError(f"cannot read the baseline {args.baseline}: {exc!r}") from None
        args.reports_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-")
        report_dir = Path(tempfile.mkdtemp(prefix=stamp, dir=args.reports_dir))
        run = measure(args, report_dir)
    except KeyboardInterrupt:
        print("release gate: interrupted; the server and Locust are stopped", file=sys.stderr)
        return 130
    except (GateError, ServerError, ValueError, OSError) as exc:
        print(f"release gate: cannot run: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    verdict = judge(run, thresholds, baseline)
    save(run, report_dir / "run.json")
    summary = render(run, verdict, thresholds, baseline)
    (report_dir / "summary.md").write_text(summary)
    print(summary)
    print(f"report: {report_dir / 'summary.md'}, {report_dir / HTML_REPORT}")
    if args.record_baseline and verdict.go:
        save(run, args.baseline)
        print(f"baseline recorded: {args.baseline} (commit it with the release)")
    elif args.record_baseline:
        print(f"baseline NOT recorded: a no-go run cannot be the baseline ({args.baseline} "
              "unchanged)")  # fmt: skip
    return EXIT_GO if verdict.go else EXIT_NO_GO


if __name__ == "__main__":
    sys.exit(main())
