"""The release gate: the real traffic mix under Locust, then go or no-go.

    python -m benchmarks.release_gate                      # start the Procfile server here
    python -m benchmarks.release_gate --url https://staging.example.com
    python -m benchmarks.release_gate --record-baseline    # accept this run if it is a go
    python -m benchmarks.release_gate -- --processes 2     # anything after -- goes to Locust

Writes benchmarks/reports/release-<timestamp>-*/: Locust's report.html and CSV files,
summary.md (the verdict and a table) and run.json. Exit status: 0 go, 1 no-go, 2 the gate
could not run. See docs/release-gate.md.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from benchmarks.launcher import REPO, SERVE_VENV, ServerError, running
from benchmarks.students import DEFAULT_COHORT_SIZE, fetch_model_info
from benchmarks.verdict import arguments, judge, load_thresholds, release_summary, report_dir

HERE = Path(__file__).resolve().parent
# Sized for a 2-core machine that also runs the server: enough users to keep both
# Gunicorn workers busy, few enough that the load generator stays under one core.
DEFAULT_USERS, DEFAULT_RUN_TIME_S = 16, 60
LOCUST_GRACE_S = 120  # past the run time, for start-up and reports, before it counts as hung
STOP_TIMEOUT_S = 10  # at the end, a request in flight may finish
# locustfile.py writes its numbers beside its CSV files (--csv folder/locust).
NUMBERS, HTML_REPORT, LOG = "locust_numbers.json", "report.html", "locust.log"
EXIT_GO, EXIT_NO_GO, EXIT_CANNOT_RUN = 0, 1, 2
FORMAT_VERSION = 1  # of run.json and baseline.json (the same format: accepting is copying)
RUN_KEYS = {"format", "conditions", "by_type", "load_errors", "locust_exit_code", "info"}


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
        "users": args.users,
        "run_time_s": args.run_time,
        "cohort_size": args.cohort_size,
        "cpu_count": os.cpu_count(),
        "locust_args": shlex.join(args.locust_args),
    }


def load(path: Path) -> dict:
    """A run.json or baseline.json; ValueError if it is not one."""
    run = json.loads(path.read_text())
    if not isinstance(run, dict) or run.get("format") != FORMAT_VERSION or set(run) != RUN_KEYS:
        raise ValueError(f"{path}: not format {FORMAT_VERSION} of a run's numbers")
    return run


def run_locust(args, url: str, folder: Path) -> int:
    """Locust's exit code; Locust never outlives this call. `args.locust_args` can override."""
    # --reset-stats: statistics restart once every user runs, so ramp-up is not measured;
    # every user at once (--spawn-rate): the run is about the steady state.
    options = (
        f"--headless --only-summary --reset-stats --stop-timeout {STOP_TIMEOUT_S} "
        f"--users {args.users} --spawn-rate {args.users} --run-time {args.run_time}s "
        f"--cohort-size {args.cohort_size}"
    )
    command = [sys.executable, "-m", "locust", "-f", HERE / "locustfile.py", "--host", url]
    command += [*options.split(), "--csv", folder / "locust", "--html", folder / HTML_REPORT]
    command, limit = command + args.locust_args, args.run_time + LOCUST_GRACE_S
    with (folder / LOG).open("wb") as log:
        return subprocess.run(command, cwd=REPO, stdout=log, stderr=log, timeout=limit).returncode


def git(*words: str) -> str:
    return subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True).stdout.strip()


def measure(args, folder: Path) -> dict:
    """Start the server unless given a URL, run the load, stop everything: the run's numbers."""
    changed = "+changes" * bool(git("status", "--porcelain", "--untracked-files=no"))
    info = {
        "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "commit": (git("rev-parse", "--short", "HEAD") or "unknown") + changed,
        "locust_version": version("locust"),
    }
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
        about = f"{args.users} users for {args.run_time} s on {url} (model {info['model_version']})"
        print(f"release gate: {about}; report in {folder}", flush=True)
        try:
            exit_code = run_locust(args, url, folder)
        except subprocess.TimeoutExpired:
            raise GateError(f"Locust did not finish; see {folder / LOG}") from None
    if not (folder / NUMBERS).exists():
        raise GateError(f"Locust exited ({exit_code}) without its statistics: see {folder / LOG}")
    numbers = json.loads((folder / NUMBERS).read_text())
    return {"format": FORMAT_VERSION, "conditions": conditions(args), **numbers, "info": info}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM raises KeyboardInterrupt, which unwinds every `finally`: nothing is left running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        thresholds = load_thresholds(args.thresholds)
        baseline = load(args.baseline) if not args.no_baseline and args.baseline.exists() else None
        folder = report_dir(args.reports_dir, "release")
        run = measure(args, folder)
    except KeyboardInterrupt:
        print("release gate: interrupted; the server and Locust are stopped", file=sys.stderr)
        return 130
    except (GateError, ServerError, ValueError, OSError) as exc:
        print(f"release gate: cannot run: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    verdict = judge(run, thresholds, baseline)
    (folder / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    summary = release_summary(run, verdict, thresholds, baseline)
    (folder / "summary.md").write_text(summary)
    print(f"{summary}\nreport: {folder / 'summary.md'}, {folder / HTML_REPORT}")
    if args.record_baseline and verdict.go:
        shutil.copyfile(folder / "run.json", args.baseline)
        print(f"baseline recorded: {args.baseline} (commit it with the release)")
    elif args.record_baseline:
        print(f"baseline NOT recorded: a no-go cannot be the baseline ({args.baseline} unchanged)")
    return EXIT_GO if verdict.go else EXIT_NO_GO


if __name__ == "__main__":
    sys.exit(main())
