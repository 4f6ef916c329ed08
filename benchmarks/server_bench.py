"""The server's speed in one command: `python -m benchmarks.server_bench` (make bench).

wrk against the Procfile's web command under the real Gunicorn config, each figure beside a floor
measured in the same run (docs/performance.md): the HTTP floor, the HTTP + onnxruntime floor, the
default answer (for the options; for drift counting, the server with DRIFT_COUNTS=false, loaded at
the same moments as it) and nginx in front of the HTTP floor. Rounds interleave, every other one
reversed; each cell's best round is kept (noise on a shared machine only slows a round down).
Targets: thresholds.toml. The table goes to stdout, table.md and report.json (all raw wrk output)
to benchmarks/reports/.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.answers import MEDIA_CSV, MEDIA_JSON
from benchmarks.launcher import NGINX, PREDICT_PATH, SERVE_VENV, Server, http, launch_nginx, running
from benchmarks.students import EXAMPLE, csv_body, draw, json_body
from benchmarks.verdict import Row, arguments, bench_table, load_thresholds, report_dir
from benchmarks.verdict import table as markdown
from model_store.schema import features
from model_store.store import ModelStore
from server.config import load_settings

POST_LUA = Path(__file__).resolve().parent / "post.lua"
APPS = {"floor": "benchmarks.floors:app()", "model-floor": "benchmarks.floors:app(with_model=True)"}
SERVERS = {"server": {}, "uncounted": {"DRIFT_COUNTS": "false"}}  # the same code, two settings
DRIFT_BODIES = ("single", "bulk")  # drift counting's cost: "counted" against "uncounted"
# A cell loaded side by side with another server, each by half the connections, its runs kept as
# "counted": both see the same moments of a shared machine, so a round's ratio of the two spreads
# about a third as much as of runs one after the other (docs/performance.md). A round is this many
# shorter pairs: more ratios in the same time.
PAIRED, PAIR_SPLITS = {"uncounted": ("server", "counted")}, 4
BEHIND_NGINX = {"nginx-floor": "floor", "nginx-server": "server"}
BULK_STUDENTS, CSV_STUDENTS, RSS_PREDICTIONS, MANY_CONNECTIONS = 1_000, 100_000, 1_000_000, 64
INTERVAL, EXPLAIN = "?interval=90", "?explain=true"
RSS_CLIENTS, RSS_CSV_POSTS = 4, 3
MB = 1e6  # decimal megabytes: the larger (stricter) reading of the memory target

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Body:
    """A request body and how hard wrk sends it."""

    label: str
    content_type: str
    data: bytes
    students: int
    connections: int
    path: Path  # the same bytes on disk, for wrk's Lua script


@dataclass(frozen=True)
class WrkRun:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # the measured workers' CPU per request (nginx's and Gunicorn's)
    output: str  # wrk's whole stdout


# What a row measures: the attribute of a wrk cell's best run (students/s: req/s × students).
MEASURES = {"req/s": "rps", "students/s": "rps", "CPU-µs/req": "cpu_us", "p99 ms": "p99_ms"}


def make_bodies(metadata: dict, folder: Path, csv_students: int) -> dict[str, Body]:
    """The bodies by name, which keys the cells and the targets."""
    rng, fields = random.Random(7), features(metadata)
    pool = [draw(rng, fields) for _ in range(4_096)]
    single, cohort = json.dumps(EXAMPLE).encode(), json_body(pool[:BULK_STUDENTS])
    table = csv_body(rng.choices(pool, k=csv_students))
    many = f"1 student JSON, {MANY_CONNECTIONS} connections"
    specs = {
        "single": ("1 student JSON", MEDIA_JSON, single, 1, 8),
        "many": (many, MEDIA_JSON, single, 1, MANY_CONNECTIONS),
        "bulk": (f"{BULK_STUDENTS:,} students JSON", MEDIA_JSON, cohort, BULK_STUDENTS, 8),
        # A 100,000-student request takes most of a second: two in flight keep both busy.
        "csv": (f"{csv_students:,} students CSV", MEDIA_CSV, table, csv_students, 2),
    }
    folder.mkdir(parents=True, exist_ok=True)
    bodies = {name: Body(*spec, folder / f"{name}.body") for name, spec in specs.items()}
    for body in bodies.values():
        body.path.write_bytes(body.data)
    return bodies


def plan(nginx: bool) -> list[tuple[str, str, str]]:
    """(server, body, query) of every wrk cell; cells compared with each other run back to back."""
    cells = []
    for body in ("single", "many", "bulk", "csv"):
        cells += [(name, body, "") for name in ("floor", "model-floor", "server")]
        cells += [("uncounted", body, "")] * (body in DRIFT_BODIES)
        cells += [("server", body, INTERVAL)] * (body in ("single", "bulk"))
        cells += [("server", body, EXPLAIN)] * (body == "bulk")
        cells += [(name, body, "") for name in BEHIND_NGINX if nginx and body in ("single", "bulk")]
    return cells


def run_wrk(servers: list[Server], url: str, body: Body, seconds: float, warmup=False) -> WrkRun:
    """POST `body` to `url` for `seconds`, every answer a 2xx; the CPU is `servers`' workers'."""
    threads, connections = f"-t{min(2, body.connections)}", f"-c{body.connections}"
    command = ["wrk", threads, connections, f"-d{seconds:g}s", "--timeout=60s", "--latency"]
    command += ["-s", POST_LUA, url, "--", body.path, body.content_type]
    cpu = sum(s.cpu_seconds() for s in servers)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    cpu = sum(s.cpu_seconds() for s in servers) - cpu
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("WRK_RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = json.loads(lines[-1].removeprefix("WRK_RESULT "))
    if sum(result["errors"].values()) or (result["requests"] == 0 and not warmup):
        raise RuntimeError(f"wrk saw errors or no answers: {result['errors']}\n{done.stdout}")
    requests = result["requests"]
    rps, cpu_us = requests / result["duration_us"] * 1e6, cpu / max(requests, 1) * 1e6
    return WrkRun(rps, result["p50_us"] / 1e3, result["p99_us"] / 1e3, cpu_us, done.stdout)


def cold_starts_and_memory(args, bodies: dict[str, Body], logs: Path) -> dict:
    """Launch → first 200 for the HTTP floor and the server, best of `args.rounds`; then
    the server's workers' memory after many JSON predictions, then after big CSVs."""
    probe, cold = bodies["single"], {"floor": [], "server": []}
    for round_, name in ((r, n) for r in range(args.rounds) for n in ("floor", "server")):
        log = logs / f"{name}-cold-{round_}.log"
        with running(log, venv=SERVE_VENV, app=APPS.get(name), **served_from(args, name)) as s:
            cold[name].append(s.wait_serving(probe.data, probe.content_type))
    with running(logs / "server-memory.log", venv=SERVE_VENV, **served_from(args)) as server:
        server.wait_ready()
        url, pids = server.url + PREDICT_PATH, server.worker_pids()
        bulk, csv = bodies["bulk"], bodies["csv"]
        posts = [bulk] * math.ceil(args.rss_predictions / bulk.students)
        with ThreadPoolExecutor(RSS_CLIENTS) as pool:
            statuses = set(pool.map(lambda b: http(url, b.data, b.content_type)[0], posts))
        after_json = server.memory()
        statuses |= {http(url, csv.data, csv.content_type)[0] for _ in range(RSS_CSV_POSTS)}
        if statuses != {200} or server.worker_pids() != pids:
            workers, log = f"workers {pids} → {server.worker_pids()}", server.log()[-3000:]
            raise RuntimeError(f"memory run: answers {statuses}, {workers}:\n{log}")
        return cold | {"after_json": after_json, "after_csv": server.memory()}


def load_cells(args, bodies: dict[str, Body], logs: Path) -> tuple[dict, dict]:
    """The `--cells` wrk cells' rounds, interleaved, every server up side by side; floor RSS."""
    with ExitStack() as stack:
        servers = {}
        for name in (*APPS, *SERVERS):
            log, env = logs / f"{name}.log", SERVERS.get(name)
            options = {"venv": SERVE_VENV, "app": APPS.get(name), **served_from(args, name)}
            servers[name] = stack.enter_context(running(log, env, **options))
        for name, upstream in BEHIND_NGINX.items() if NGINX else ():
            servers[name] = launch_nginx(servers[upstream], logs / name)
            stack.callback(servers[name].stop)
        for server in servers.values():
            server.wait_serving(bodies["single"].data, bodies["single"].content_type)
        cells = [c for c in plan(NGINX is not None) if "{}/{}{}".format(*c) in args.cells]
        runs: dict[str, list[WrkRun]] = {f"{name}/{body}{query}": [] for name, body, query in cells}
        runs |= {f"{PAIRED[name][1]}/{body}": [] for name, body, _ in cells if name in PAIRED}
        for round_ in range(args.rounds + 1):  # the first round warms up and is not kept
            seconds = args.duration if round_ else min(1.0, args.duration)
            for name, body, query in cells if round_ % 2 else cells[::-1]:
                logger.info("round %d/%d: %s/%s%s", round_, args.rounds, name, body, query)
                if name in PAIRED:
                    for cell, kept in side_by_side(servers, name, body, bodies[body], seconds):
                        runs[cell] += kept * bool(round_)
                    continue
                measured = [servers[n] for n in (name, BEHIND_NGINX.get(name)) if n]
                url = servers[name].url + PREDICT_PATH + query
                run = run_wrk(measured, url, bodies[body], seconds, warmup=not round_)
                runs[f"{name}/{body}{query}"] += [run] * bool(round_)
                for server in measured:
                    server.wait_idle()
        return runs, servers["floor"].memory()


def side_by_side(servers: dict[str, Server], name: str, body_name: str, body: Body,
                 seconds: float) -> list[tuple[str, list[WrkRun]]]:  # fmt: skip
    """PAIR_SPLITS runs of `name` and, at the same time, of its partner (PAIRED), each by half
    the body's connections; as (cell, runs) for both."""
    partner, kept_as = PAIRED[name]
    half = replace(body, connections=max(body.connections // 2, 1))
    both = [servers[name], servers[partner]]
    runs: list[list[WrkRun]] = [[], []]
    part = max(1, int(seconds // PAIR_SPLITS))  # wrk takes whole seconds
    with ThreadPoolExecutor(2) as pool:
        for _ in range(PAIR_SPLITS):
            at_once = [pool.submit(run_wrk, [s], s.url + PREDICT_PATH, half, part) for s in both]
            for kept, future in zip(runs, at_once, strict=True):
                kept.append(future.result())
            for server in both:
                server.wait_idle()
    return [(f"{name}/{body_name}", runs[0]), (f"{kept_as}/{body_name}", runs[1])]


def paired_middles(runs: dict[str, list[WrkRun]], middle: dict[str, float]) -> dict[str, float]:
    """A paired cell's partner's CPU-µs/req: its cell's median times the median of the pairs'
    ratios, so that its row's ratio is the pairs' (as farm-bench pairs runs), not a ratio of
    medians taken from different moments."""
    kept = {}
    for name, (_, kept_as) in PAIRED.items():
        for cell in [c for c in runs if c.startswith(f"{name}/")]:
            partner = kept_as + cell.removeprefix(name)
            pairs = zip(runs[partner], runs[cell], strict=True)
            kept[partner] = middle[cell] * statistics.median(a.cpu_us / b.cpu_us for a, b in pairs)
    return kept


def drift_rounds(runs: dict[str, list[WrkRun]]) -> str:
    """Each pair's CPU with drift counting on over off: the spread behind their medians."""
    spread = []
    for body in DRIFT_BODIES:
        on, off = runs.get(f"counted/{body}", []), runs.get(f"uncounted/{body}", [])
        pairs = zip(on, off, strict=False)
        spread.append(f"{body} " + ", ".join(f"{a.cpu_us / b.cpu_us:.3f}" for a, b in pairs))
    return "Drift counting on / off, CPU per pair run side by side: " + "; ".join(spread)


def served_from(args, name: str = "server") -> dict:
    """Where the servers (not the floors) are started: `--checkout`, or this checkout."""
    return {"cwd": args.checkout} if args.checkout and name in SERVERS else {}


def build_rows(bodies: dict[str, Body], best: dict[str, WrkRun], targets: dict,
               nginx: bool = NGINX is not None) -> list[Row]:  # fmt: skip
    """Each body's floors and the server against them; the options and drift counting against
    the default answer; as deployed against nginx + the HTTP floor. No cell, no row."""
    limit, slower = targets["single_p99_ms"], targets["interval_max_slowdown"]
    times, counting = targets["explain_max_times"], targets["drift_max_slowdown"]
    fast = (f"≤ {limit:g} ms", lambda v, r: v <= limit)
    interval = (f"≤ {slower:.0%} slower", lambda v, r: r <= 1 + slower)
    explain = (f"≤ {times:g}× its time", lambda v, r: r <= times)
    drift = (f"≤ {counting:.0%} slower", lambda v, r: r <= 1 + counting)
    json_students = getattr(best.get("server/bulk"), "rps", math.nan) * bodies["bulk"].students
    deployed, direct = "As deployed: nginx → server", "HTTP floor (direct)"
    default, off = "default answer", "DRIFT_COUNTS=false"
    rows = []
    for name, body in bodies.items():
        least = targets.get(f"{name}_share_of_floor", 0)
        share = (f"≥ {least:.0%} of floor", lambda v, r, least=least: r >= least)
        if name == "csv":
            share = (f"≥ JSON bulk {json_students:,.0f}", lambda v, r: v >= json_students)
        restated = (f"≥ {least:.0%} of it (restated)", share[1]) if least else None
        # (cell, measure, server, query, floor, the floor's server, target)
        specs = [
            ("HTTP floor", "req/s", "floor", "", "itself", "floor", None),
            ("HTTP + onnxruntime floor", "req/s", "model-floor", "", "HTTP floor", "floor", None),
            ("Server", "students/s", "server", "", "HTTP floor", "floor", share),
            ("Server", "req/s", "server", "", "HTTP + onnxruntime floor", "model-floor", restated),
            ("Server", "CPU-µs/req", "server", "", "HTTP floor", "floor", None),
            *[("Server", "p99 ms", "server", "", "HTTP floor", "floor", fast)] * (name == "single"),
            (f"Server {INTERVAL}", "CPU-µs/req", "server", INTERVAL, default, "server", interval),
            (f"Server {EXPLAIN}", "CPU-µs/req", "server", EXPLAIN, default, "server", explain),
            ("Server, drift counting on", "CPU-µs/req", "counted", "", off, "uncounted", drift),
            ("nginx → HTTP floor", "req/s", "nginx-floor", "", direct, "floor", None),
            (deployed, "students/s", "nginx-server", "", "nginx + HTTP floor", "nginx-floor", None),
            (deployed, "CPU-µs/req", "nginx-server", "", "nginx + HTTP floor", "nginx-floor", None),
        ]
        for cell, measure, server, query, floor, floor_server, target in specs:
            pair = (best.get(f"{server}/{name}{query}"), best.get(f"{floor_server}/{name}"))
            if all(pair):
                per = body.students if measure == "students/s" else 1
                value, under = (getattr(r, MEASURES[measure]) * per for r in pair)
                rows.append(Row(f"{cell}, {body.label}", measure, value, floor, under, target))
    if not nginx:
        skipped = "skipped: nginx not installed"
        rows.append(Row(deployed, skipped, math.nan, "nginx + HTTP floor", math.nan))
    return rows


def memory_rows(args, cold: dict, floor_memory: dict, targets: dict) -> list[Row]:
    memories = (cold["after_json"], cold["after_csv"], floor_memory)
    json_mb, csv_mb, floor_mb = (max(m["rss"] for m in memory.values()) / MB for memory in memories)
    rss_mb, cold_s = targets["worker_rss_mb"], targets["cold_start_s"]
    after = f"Worker memory after {args.rss_predictions:,} JSON predictions"
    then = f"… then {RSS_CSV_POSTS * args.csv_rows:,} CSV students more"
    launch = "Cold start: Procfile command → first 200 on /predictdata"
    small = (f"≤ {rss_mb:g} MB", lambda v, r: v <= rss_mb)
    quick = (f"≤ {cold_s:g} s", lambda v, r: v <= cold_s)
    return [
        Row(after, "RSS MB", json_mb, "floor app worker", floor_mb, small),
        Row(then, "RSS MB", csv_mb, "floor app worker", floor_mb),
        Row(launch, "s", min(cold["server"]), "floor app", min(cold["floor"]), quick),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = arguments("benchmarks.server_bench", __doc__)
    add = parser.add_argument
    add("--duration", type=float, default=10.0, help="seconds per wrk round")
    add("--rounds", type=int, default=2, help="rounds per cell, best kept")
    add("--csv-rows", type=int, default=CSV_STUDENTS, help="students in the CSV body")
    served = "predictions served before reading the workers' memory"
    add("--rss-predictions", type=int, default=RSS_PREDICTIONS, help=served)
    before = "serve the server cells from this checkout (its code and model), e.g. a worktree "
    add("--checkout", type=Path, help=before + "of the commit before a change")
    known = ["{}/{}{}".format(*cell) for cell in plan(nginx=NGINX is not None)]
    only = "only these wrk cells (as the last table names them), no cold start or memory"
    add("--cells", nargs="+", choices=known, default=known, metavar="CELL", help=only)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0 or shutil.which("wrk") is None:
        parser.error("--rounds must be at least 1, --duration positive, wrk installed (apt)")
    logging.basicConfig(level=logging.INFO, format="[bench %(asctime)s] %(message)s")
    started, load_before = datetime.now(UTC), os.getloadavg()
    metadata = ModelStore(load_settings().store_dir).load().metadata
    with tempfile.TemporaryDirectory(prefix="studypredict-bench-") as tmp:
        bodies = make_bodies(metadata, Path(tmp) / "bodies", args.csv_rows)
        cold = cold_starts_and_memory(args, bodies, Path(tmp)) if args.cells == known else None
        runs, floor_memory = load_cells(args, bodies, Path(tmp))
    middle = {cell: statistics.median(r.cpu_us for r in rounds) for cell, rounds in runs.items()}
    middle |= paired_middles(runs, middle)
    best = {c: replace(max(rs, key=lambda r: r.rps), cpu_us=middle[c]) for c, rs in runs.items()}
    targets = load_thresholds()["server_bench"]
    rows = build_rows(bodies, best, targets)
    rows += memory_rows(args, cold, floor_memory, targets) if cold else []
    notes = [
        f"wrk -t2 -c8 (-c{MANY_CONNECTIONS} where it says so, -c2 for CSV), best of {args.rounds} "
        "interleaved rounds per cell (highest req/s; CPU-µs/req their median); drift counting on "
        f"and off side by side, each by half the connections, {PAIR_SPLITS} pairs a round (on: "
        "off's median times the pairs' median ratio); cold start: best.",
        drift_rounds(runs),
        f"Load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after.",
    ]
    header = ("wrk cell", "req/s", "p50 ms", "p99 ms", "server CPU-µs/req (median)")
    cells = [
        (c, f"{r.rps:,.1f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", f"{r.cpu_us:,.0f}")
        for c, r in best.items()
    ]
    text = bench_table(rows, notes) + "\n" + markdown(header, cells)
    print(text)
    folder = report_dir(args.reports_dir, "server")
    (folder / "table.md").write_text(text)
    report = {"started": started.isoformat(), "arguments": vars(args), "cold_start": cold,
              "floor_memory": floor_memory, "rows": [asdict(r) for r in rows],
              "wrk_rounds": {c: [asdict(r) for r in rs] for c, rs in runs.items()}}  # fmt: skip
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str))
    logger.info("report: %s", folder / "report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
