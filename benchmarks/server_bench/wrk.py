"""Running wrk against a server and reading the JSON line post.lua prints."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procfile_server import PREDICT_PATH
from benchmarks.server_bench.bodies import Body
from benchmarks.server_bench.contention import CpuShares

LUA_SCRIPT = Path(__file__).resolve().parent / "post.lua"
THREADS = 2
CONNECTIONS = 8
RESULT_MARKER = "WRK_RESULT "
# wrk's own default (2 s) would count a slow 100k-row request as a timeout.
TIMEOUT = "60s"


class WrkError(Exception):
    pass


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict
    output: str  # wrk's whole stdout, kept in the JSON report
    cpu: CpuShares | None = None  # who used the CPU meanwhile, when measured

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def server_cpu_us_per_request(self) -> float | None:
        return self.cpu.server_seconds / self.requests * 1e6 if self.cpu else None

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkError("wrk is not installed; run: apt-get install -y wrk")
    return path


def run_wrk(
    url: str, body: Body, seconds: float, connections: int = CONNECTIONS, warmup: bool = False
) -> WrkRun:
    """POST `body` to url + /predictdata for `seconds` with wrk; every answer must be a 2xx.

    wrk counts only the requests answered before it stops, so a cell whose
    requests take a large share of `seconds` is undercounted a little. A warmup
    may end before its first slow answer.
    """
    command = [
        wrk_path(), f"-t{min(THREADS, connections)}", f"-c{connections}", f"-d{seconds:g}s",
        f"--timeout={TIMEOUT}", "--latency", "-s", str(LUA_SCRIPT), url + PREDICT_PATH,
        "--", str(body.path), body.content_type,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise WrkError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(RESULT_MARKER)]
    if not lines:
        raise WrkError(f"wrk printed no {RESULT_MARKER.strip()} line:\n{done.stdout}")
    result = json.loads(lines[-1].removeprefix(RESULT_MARKER))
    run = WrkRun(
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1e3,
        p99_ms=result["p99_us"] / 1e3,
        errors=result["errors"],
        output=done.stdout,
    )
    if run.failed or (run.requests == 0 and not warmup):
        raise WrkError(f"wrk saw errors or no answers against {url}: {run.errors}\n{done.stdout}")
    return run
