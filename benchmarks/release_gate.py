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
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from benchmarks import release_locust, release_stats
from benchmarks.procfile_server import REPO, SERVE_VENV, ServerError, gunicorn, wait_until_ready
from benchmarks.release_report import render
from benchmarks.release_stats import RunStats
from benchmarks.release_traffic import DEFAULT_COHORT_SIZE, fetch_model_info
from benchmarks.release_verdict import Verdict, judge, load_thresholds

HERE = Path(__file__).resolve().parent
THRESHOLDS = HERE / "thresholds.toml"
BASELINE = HERE / "baseline.json"
REPORTS = HERE / "reports"
# Sized for a 2-core machine that also runs the server: enough users to keep both
# Gunicorn workers busy, few enough that the load generator stays under one core.
DEFAULT_USERS = 16
DEFAULT_RUN_TIME_S = 60
LOCUST_GRACE_S = 120  # past the run time, for start-up and reports, before it counts as hung
EXIT_GO, EXIT_NO_GO, EXIT_CANNOT_RUN = 0, 1, 2


class GateError(Exception):
    pass


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.release_gate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", help="benchmark this server instead of starting the Procfile's")
    parser.add_argument(
        "--users",
        type=int,
        default=DEFAULT_USERS,
        help=f"concurrent Locust users (default {DEFAULT_USERS})",
    )
    parser.add_argument(
        "--run-time",
        type=int,
        default=DEFAULT_RUN_TIME_S,
        metavar="SECONDS",
        help=f"seconds of load (default {DEFAULT_RUN_TIME_S})",
    )
    parser.add_argument(
        "--cohort-size",
        type=int,
        default=DEFAULT_COHORT_SIZE,
        help=f"students per bulk request (default {DEFAULT_COHORT_SIZE})",
    )
    parser.add_argument("--thresholds", type=Path, default=THRESHOLDS)
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    parser.add_argument("--no-baseline", action="store_true", help="do not compare throughput")
    parser.add_argument(
        "--record-baseline", action="store_true", help="after a go, write this run to --baseline"
    )
    parser.add_argument("--reports-dir", type=Path, default=REPORTS)
    parser.add_argument("locust_args", nargs="*", help="after --: more arguments for Locust")
    args = parser.parse_args(argv)
    if min(args.users, args.run_time, args.cohort_size) < 1:
        parser.error("--users, --run-time and --cohort-size must be at least 1")
    return args


def new_report_dir(root: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for suffix in ["", *(f"-{n}" for n in range(2, 100))]:
        path = root / f"{stamp}{suffix}"
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise GateError(f"cannot make a report folder under {root}")


def conditions(args: argparse.Namespace) -> dict:
    """What makes two runs' throughput comparable."""
    workers = os.environ.get("WEB_CONCURRENCY", "unset")
    return {
        "target": args.url or f"the Procfile's server on this machine (WEB_CONCURRENCY {workers})",
        "users": args.users,
        "run_time_s": args.run_time,
        "cohort_size": args.cohort_size,
        "cpu_count": os.cpu_count(),
        "locust_args": shlex.join(args.locust_args),
    }


def git_commit() -> str:
    def git(*words: str) -> str:
        result = subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True)
        return result.stdout.strip()

    changed = git("status", "--porcelain", "--untracked-files=no")
    return (git("rev-parse", "--short", "HEAD") or "unknown") + ("+changes" if changed else "")


def measure(args: argparse.Namespace, report_dir: Path) -> RunStats:
    """Start the server unless given a URL, run the load, stop everything, read the numbers."""
    info = {
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "commit": git_commit(),
        "locust_version": version("locust"),
    }
    with ExitStack() as stack:
        if args.url:
            url = args.url.rstrip("/")
        else:
            # Its log is the report's server.log.
            server = stack.enter_context(gunicorn("server", SERVE_VENV, report_dir))
            wait_until_ready(server)  # not just listening: a worker has loaded the model
            url = server.url
        try:
            info["model_version"] = fetch_model_info(url)["version"]
        except (OSError, ValueError, KeyError) as exc:
            raise GateError(f"cannot read the served model from {url}/model: {exc!r}") from None
        print(
            f"release gate: {args.users} users for {args.run_time} s against {url} "
            f"(model {info['model_version']}); report in {report_dir}",
            flush=True,
        )
        command = release_locust.command(
            url, args.users, args.run_time, args.cohort_size, report_dir, args.locust_args
        )
        try:
            exit_code = release_locust.run(command, report_dir, args.run_time + LOCUST_GRACE_S)
        except subprocess.TimeoutExpired:
            raise GateError(
                f"Locust did not finish; see {report_dir / release_locust.LOG}"
            ) from None
    if not (report_dir / f"{release_locust.FINAL_JSON}.json").exists():
        raise GateError(
            f"Locust exited with code {exit_code} without its statistics; "
            f"see {report_dir / release_locust.LOG}"
        )
    by_type = release_locust.read_stats(report_dir, args.cohort_size)
    load_errors = release_locust.count_load_errors(report_dir)
    if exit_code == release_locust.EXIT_FAILURES and not any(s.failures for s in by_type.values()):
        load_errors = max(load_errors, 1)  # Locust saw an error that is not a failed request
    info["failure_messages"] = release_locust.failure_messages(report_dir)
    return RunStats(conditions(args), by_type, load_errors, exit_code, info)


def load_baseline(args: argparse.Namespace) -> RunStats | None:
    if args.no_baseline or not args.baseline.exists():
        return None
    try:
        return release_stats.load(args.baseline)
    except (ValueError, KeyError, TypeError) as exc:
        raise GateError(f"cannot read the baseline {args.baseline}: {exc!r}") from None


def record(run: RunStats, verdict: Verdict, path: Path) -> None:
    if verdict.go:
        release_stats.save(run, path)
        print(f"baseline recorded: {path} (commit it with the release)")
    else:
        print(f"baseline NOT recorded: a no-go run cannot be the baseline ({path} unchanged)")


def _stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`: nothing is left running


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        thresholds = load_thresholds(args.thresholds)
        baseline = load_baseline(args)
        report_dir = new_report_dir(args.reports_dir)
        run = measure(args, report_dir)
    except KeyboardInterrupt:
        print("release gate: interrupted; the server and Locust are stopped", file=sys.stderr)
        return 130
    except (GateError, ServerError, ValueError, OSError) as exc:
        print(f"release gate: cannot run: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    verdict = judge(run, thresholds, baseline)
    release_stats.save(run, report_dir / "run.json")
    summary = render(run, verdict, thresholds, baseline)
    (report_dir / "summary.md").write_text(summary)
    print(summary)
    print(f"report: {report_dir / 'summary.md'}, {report_dir / release_locust.HTML_REPORT}")
    if args.record_baseline:
        record(run, verdict, args.baseline)
    return EXIT_GO if verdict.go else EXIT_NO_GO


if __name__ == "__main__":
    sys.exit(main())
