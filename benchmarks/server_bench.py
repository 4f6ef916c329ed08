"""The server's speed in one command: `python -m benchmarks.server_bench` (make bench).

wrk (-t2 -c8) against the Procfile's web command under the real Gunicorn config. Each
figure stands beside a floor measured in the same run: the HTTP floor (a constant
answer), the HTTP + onnxruntime floor (that plus the model's run), the default answer
(for the options) and, as deployed, nginx with our files in front of the HTTP floor.
Rounds of all cells interleave; each cell's best round is kept (noise on a shared
machine only slows a round down). Targets: thresholds.toml. The table goes to stdout,
table.md and report.json (every round's raw wrk output) to benchmarks/reports/.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from benchmarks.launcher import PREDICT_PATH, SERVE_VENV, Server, http, running
from benchmarks.nginx import NGINX, launch_nginx
from benchmarks.students import EXAMPLE, Pool, draw, json_body
from benchmarks.verdict import Row, Target, arguments, bench_table, load_thresholds, table
from model_store.schema import features
from model_store.store import ModelStore
from server.config import load_settings

HERE = Path(__file__).resolve().parent
APPS = {"floor": "benchmarks.floors:http_floor()", "model-floor": "benchmarks.floors:model_floor()"}
BEHIND_NGINX = {"nginx-floor": "floor", "nginx-server": "server"}
BULK_STUDENTS, CSV_STUDENTS, RSS_PREDICTIONS = 1_000, 100_000, 1_000_000
CONNECTIONS = {"single": 8, "bulk": 8, "csv": 2}  # a 100k-student request takes most of a second
INTERVAL, EXPLAIN = "?interval=90", "?explain=true"
RSS_CLIENTS, RSS_CSV_POSTS = 4, 3
MB = 1e6  # decimal megabytes: the larger (stricter) reading of the memory target

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Body:
    name: str
    content_type: str
    data: bytes
    students: int
    path: Path  # the same bytes on disk, for wrk's Lua script

    @property
    def label(self) -> str:
        return "1 student JSON" if self.students == 1 else f"{self.students:,} students {self.name}"


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float  # the workers' CPU time during the run (nginx's and Gunicorn's)
    others_share: float  # other processes' CPU, as a share of the machine's capacity
    output: str  # wrk's whole stdout

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.server_cpu_s / max(self.requests, 1) * 1e6


def make_bodies(metadata: dict, folder: Path, csv_students: int) -> dict[str, Body]:
    rng, fields = random.Random(7), features(metadata)
    cohort = json_body([draw(rng, fields) for _ in range(BULK_STUDENTS)])
    table = Pool(fields, rng).csv(rng, None, csv_students)
    made = {"single": ("application/json", json.dumps(EXAMPLE).encode(), 1),
            "bulk": ("application/json", cohort, BULK_STUDENTS),
            "csv": ("text/csv", table, csv_students)}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    for name, (_, data, _) in made.items():
        (folder / f"{name}.body").write_bytes(data)
    return {name: Body(name, *spec, folder / f"{name}.body") for name, spec in made.items()}


def plan(nginx: bool) -> list[tuple[str, str, str]]:
    """(server, body, query) of every wrk cell; cells compared with each other run back
    to back, as they share the machine's state."""
    cells = []
    for body in ("single", "bulk", "csv"):
        cells += [(name, body, "") for name in ("floor", "model-floor", "server")]
        cells += [("server", body, INTERVAL)] * (body != "csv")
        cells += [("server", body, EXPLAIN)] * (body == "bulk")
        cells += [(name, body, "") for name in BEHIND_NGINX if nginx and body != "csv"]
    return cells


def _busy_seconds() -> tuple[float, float]:
    """(the machine's busy CPU seconds, this process's and its finished children's)."""
    times, own = psutil.cpu_times(), (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    usage = sum(u.ru_utime + u.ru_stime for u in map(resource.getrusage, own))
    return sum(times) - times.idle - times.iowait, usage


def run_wrk(servers: list[Server], url: str, body: Body, seconds: float, warmup=False) -> WrkRun:
    """POST `body` to `url` for `seconds` with wrk; every answer must be a 2xx. The CPU
    counted is that of `servers`' workers."""
    connections = CONNECTIONS[body.name]
    command = [shutil.which("wrk") or "wrk", f"-t{min(2, connections)}", f"-c{connections}",
               f"-d{seconds:g}s", "--timeout=60s", "--latency", "-s", str(HERE / "post.lua"),
               url, "--", str(body.path), body.content_type]  # fmt: skip
    cpu, (busy, own) = sum(s.cpu_seconds() for s in servers), _busy_seconds()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    wall, cpu = time.perf_counter() - started, sum(s.cpu_seconds() for s in servers) - cpu
    busy, own = (now - then for now, then in zip(_busy_seconds(), (busy, own), strict=True))
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("WRK_RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = json.loads(lines[-1].removeprefix("WRK_RESULT "))
    others = max(0.0, busy - cpu - own) / (wall * (os.cpu_count() or 1))
    run = WrkRun(result["requests"], result["duration_us"] / 1e6, result["p50_us"] / 1e3,
                 result["p99_us"] / 1e3, cpu, others, done.stdout)  # fmt: skip
    if sum(result["errors"].values()) or (run.requests == 0 and not warmup):
        raise RuntimeError(f"wrk saw errors or no answers: {result['errors']}\n{done.stdout}")
    return run


def cold_starts_and_memory(args, bodies: dict[str, Body], logs: Path) -> dict:
    """Launch → first 200 for the HTTP floor and the server; then the server's memory."""
    probe, cold = bodies["single"], {"floor": [], "server": []}
    for round_, name in ((r, n) for r in range(args.rounds) for n in ("floor", "server")):
        log = logs / f"{name}-cold-{round_}.log"
        with running(log, venv=args.serve_venv, app=APPS.get(name)) as server:
            cold[name].append(server.wait_serving(probe.data, probe.content_type))
            if name == "server" and round_ == args.rounds - 1:
                cold |= worker_memory(server, bodies, args.rss_predictions)
    return cold


def worker_memory(server: Server, bodies: dict[str, Body], predictions: int) -> dict:
    """The workers' memory after `predictions` in bulk JSON, then after big CSVs."""
    pids, bulk, csv, url = server.worker_pids(), bodies["bulk"], bodies["csv"], server.url
    with ThreadPoolExecutor(RSS_CLIENTS) as pool:
        posts = range(math.ceil(predictions / bulk.students))
        statuses = set(pool.map(lambda _: post(url, bulk), posts))
    memory = {"predictions": predictions, "after_json": server.memory()}
    statuses |= {post(url, csv) for _ in range(RSS_CSV_POSTS)}
    memory |= {"after_csv": server.memory(), "csv_students": RSS_CSV_POSTS * csv.students}
    if statuses != {200} or server.worker_pids() != pids:
        raise RuntimeError(f"memory run: answers {statuses}, workers {pids} → "
                           f"{server.worker_pids()}:\n{server.log()[-3000:]}")  # fmt: skip
    return memory


def post(url: str, body: Body) -> int:
    return http(url + PREDICT_PATH, body.data, body.content_type)[0]


def load_cells(args, bodies: dict[str, Body], logs: Path) -> dict:
    """Every wrk cell, rounds interleaved across cells; all servers up side by side."""
    with ExitStack() as stack:

        def start(name: str) -> Server:
            log, app = logs / f"{name}.log", APPS.get(name)
            return stack.enter_context(running(log, venv=args.serve_venv, app=app))

        servers = {name: start(name) for name in ("floor", "model-floor", "server")}
        for name, upstream in BEHIND_NGINX.items() if NGINX else ():
            servers[name] = launch_nginx(servers[upstream], logs / name)
            stack.callback(servers[name].stop)
        for server in servers.values():
            server.wait_serving(bodies["single"].data, bodies["single"].content_type)
        cells = plan(nginx=NGINX is not None)
        runs: dict[str, list[WrkRun]] = {f"{name}/{body}{query}": [] for name, body, query in cells}
        for round_ in range(args.rounds + 1):  # the first round warms up and is not kept
            for name, body, query in cells:
                logger.info("round %d/%d: %s/%s%s", round_, args.rounds, name, body, query)
                measured = [servers[n] for n in (name, BEHIND_NGINX.get(name)) if n]
                url = servers[name].url + PREDICT_PATH + query
                duration = args.duration if round_ else min(1.0, args.duration)
                run = run_wrk(measured, url, bodies[body], duration, warmup=not round_)
                runs[f"{name}/{body}{query}"] += [run] * bool(round_)
                for server in measured:
                    server.wait_idle()
        return {"runs": runs, "floor_memory": servers["floor"].memory()}


def build_rows(bodies: dict[str, Body], best: dict[str, WrkRun], targets: dict) -> list[Row]:
    """Each body's floors and the server against them; the options against the default
    answer; as deployed against nginx + the HTTP floor."""
    share = {"single": targets["single_share_of_floor"], "bulk": targets["bulk_share_of_floor"]}
    slower, times = targets["interval_max_slowdown"], targets["explain_max_times"]
    options = {INTERVAL: (f"≤ {slower:.0%} slower", 1 + slower),
               EXPLAIN: (f"≤ {times:g}× its time", times)}  # fmt: skip
    json_students, rows = best["server/bulk"].rps * bodies["bulk"].students, []
    for name, body in bodies.items():
        floor, model_floor, run = (best[f"{s}/{name}"] for s in ("floor", "model-floor", "server"))
        cell, least = f"Server, {body.label}", share.get(name, 0)
        ours = Target(f"≥ {least:.0%} of floor", lambda v, r, least=least: r >= least)
        if name == "csv":
            ours = Target(f"≥ JSON bulk {json_students:,.0f}", lambda v, r: v >= json_students)
        restated = Target(f"≥ {least:.0%} of it (restated)", ours.met) if least else None
        rows += [Row(f"HTTP floor, {body.label}", "req/s", floor.rps, "itself", floor.rps),
                 Row(f"HTTP + onnxruntime floor, {body.label}", "req/s", model_floor.rps,
                     "HTTP floor", floor.rps),
                 Row(cell, "students/s", run.rps * body.students, "HTTP floor",
                     floor.rps * body.students, ours),
                 Row(cell, "req/s", run.rps, "HTTP + onnxruntime floor", model_floor.rps,
                     restated),
                 Row(cell, "CPU-µs/req", run.cpu_us, "HTTP floor", floor.cpu_us)]  # fmt: skip
        if name == "single":
            limit = targets["single_p99_ms"]
            fast = Target(f"≤ {limit:g} ms", lambda v, r, m=limit: v <= m)
            rows.append(Row(cell, "p99 ms", run.p99_ms, "HTTP floor", floor.p99_ms, fast))
        for query, (text, most) in options.items():
            if f"server/{name}{query}" in best:  # CPU per request: the option's cost
                rows.append(Row(f"Server {query}, {body.label}", "CPU-µs/req",
                                best[f"server/{name}{query}"].cpu_us, "default answer",
                                run.cpu_us, Target(text, lambda v, r, m=most: r <= m)))  # fmt: skip
        if f"nginx-server/{name}" in best:
            floor, run = best[f"nginx-floor/{name}"], best[f"nginx-server/{name}"]
            cell = f"As deployed: nginx → server, {body.label}"
            rows += [Row(f"nginx → HTTP floor, {body.label}", "req/s", floor.rps,
                         "HTTP floor (direct)", best[f"floor/{name}"].rps),
                     Row(cell, "students/s", run.rps * body.students, "nginx + HTTP floor",
                         floor.rps * body.students),
                     Row(cell, "CPU-µs/req", run.cpu_us, "nginx + HTTP floor",
                         floor.cpu_us)]  # fmt: skip
    if "nginx-server/single" not in best:  # plan() leaves nginx out only when it is missing
        rows.append(Row("As deployed: nginx → server", "skipped: nginx not installed", math.nan,
                        "nginx + HTTP floor", math.nan))  # fmt: skip
    return rows


def memory_rows(cold: dict, floor_memory: dict, targets: dict) -> list[Row]:
    rss = {stage: max(m["rss"] for m in cold[stage].values()) / MB
           for stage in ("after_json", "after_csv")}  # fmt: skip
    floor_rss = max(m["rss"] for m in floor_memory.values()) / MB
    rss_mb, cold_s = targets["worker_rss_mb"], targets["cold_start_s"]
    return [
        Row(f"Worker memory after {cold['predictions']:,} JSON predictions", "RSS MB",
            rss["after_json"], "floor app worker", floor_rss,
            Target(f"≤ {rss_mb:g} MB", lambda v, r: v <= rss_mb)),
        Row(f"… then {cold['csv_students']:,} CSV students more", "RSS MB", rss["after_csv"],
            "floor app worker", floor_rss),
        Row("Cold start: Procfile command → first 200 on /predictdata", "s", min(cold["server"]),
            "floor app", min(cold["floor"]), Target(f"≤ {cold_s:g} s", lambda v, r: v <= cold_s)),
    ]  # fmt: skip


def cells_table(best: dict[str, WrkRun]) -> str:
    """Each cell's best round in full: what the ratios were computed from."""
    rows = [(cell, f"{r.rps:,.1f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", f"{r.cpu_us:,.0f}",
             f"{r.others_share:.0%}") for cell, r in best.items()]  # fmt: skip
    header = ("wrk cell", "req/s", "p50 ms", "p99 ms", "server CPU-µs/req", "others' CPU")
    return table(header, rows)


def parse_args(argv: list[str] | None):
    parser = arguments("benchmarks.server_bench", __doc__)
    add = parser.add_argument
    add("--duration", type=float, default=10.0, help="seconds per wrk round")
    add("--rounds", type=int, default=2, help="rounds per cell, best kept")
    add("--csv-rows", type=int, default=CSV_STUDENTS, help="students in the CSV body")
    add("--rss-predictions", type=int, default=RSS_PREDICTIONS,
        help="predictions served before reading the workers' memory")  # fmt: skip
    add("--serve-venv", type=Path, default=SERVE_VENV)
    add("--report-dir", type=Path, help="default: benchmarks/reports/server-<timestamp>")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0 or shutil.which("wrk") is None:
        parser.error("--rounds must be at least 1, --duration positive, and wrk installed "
                     "(apt-get install -y wrk)")  # fmt: skip
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[bench %(asctime)s] %(message)s")
    started, clock, load_before = datetime.now(UTC), time.perf_counter(), os.getloadavg()
    store, targets = ModelStore(load_settings().store_dir), load_thresholds().server_bench
    with tempfile.TemporaryDirectory(prefix="studypredict-bench-") as tmp:
        folder = Path(tmp)
        bodies = make_bodies(store.load().metadata, folder / "bodies", args.csv_rows)
        logger.info("cold starts, then worker memory")
        cold = cold_starts_and_memory(args, bodies, folder)
        logger.info("wrk cells")
        loaded = load_cells(args, bodies, folder)
    best = {cell: max(rounds, key=lambda r: r.rps) for cell, rounds in loaded["runs"].items()}
    rows = build_rows(bodies, best, targets) + memory_rows(cold, loaded["floor_memory"], targets)
    shares = sorted(r.others_share for rounds in loaded["runs"].values() for r in rounds)
    text = bench_table(rows, [
        f"wrk -t2 -c8 (-c2 for CSV), best of {args.rounds} interleaved rounds per cell "
        "(highest req/s, with that round's latencies); cold start: best of as many launches.",
        f"Other processes took {shares[len(shares) // 2]:.0%} of the machine's CPU in the "
        f"median wrk round (max {shares[-1]:.0%}); load average {load_before[0]:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after. The workers' CPU-µs per request is what contention "
        "moves least; through nginx it counts nginx's workers too.",
        "Latency at -c8 on 2 sync workers is mostly queueing: p50 ≈ 8 / (req/s).",
    ])  # fmt: skip
    text += "\n" + cells_table(best)
    print(text)
    report_dir = args.report_dir or HERE / "reports" / f"server-{started:%Y%m%dT%H%M%SZ}"
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "table.md").write_text(text)
    records = [{**asdict(r), "ratio": r.ratio, "target": r.target and r.target.text,
                "result": r.result} for r in rows]  # fmt: skip
    report = {"table": text, "rows": records, "started": started.isoformat(),
              "seconds": round(time.perf_counter() - clock, 1), "cpus": os.cpu_count(),
              "arguments": {k: str(v) for k, v in vars(args).items()}, "cold_start": cold,
              "floor_memory": loaded["floor_memory"],
              "wrk_rounds": {c: [*map(asdict, r)] for c, r in loaded["runs"].items()}}  # fmt: skip
    (report_dir / "report.json").write_text(json.dumps(report, indent=2, default=str))
    logger.info("report: %s", report_dir / "report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
