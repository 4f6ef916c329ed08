"""The measurements that drive servers: cold starts, worker memory, and the wrk cells."""

from __future__ import annotations

import logging
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from functools import partial
from pathlib import Path

from benchmarks.procfile_server import Server, ServerError, gunicorn, post, wait_until_serving
from benchmarks.reference_flask_app import REFERENCE_PIPELINE_ENV
from benchmarks.server_bench import footprint
from benchmarks.server_bench.bodies import Body
from benchmarks.server_bench.contention import measure_cpu
from benchmarks.server_bench.wrk import CONNECTIONS, run_wrk
from server.config import DEFAULT_ORT_THREADS

FLOOR_APP = "benchmarks.floor_app:app"
MODEL_FLOOR_APP = "benchmarks.model_floor_app:app"
REFERENCE_APP = "benchmarks.reference_flask_app:app"
THREADS_ENV = "ORT_INTRA_OP_THREADS"
SWEEP_THREADS = (1, 2)
RSS_CLIENTS = 4
RSS_CSV_POSTS = 3  # big CSV requests after the 1M predictions, to see what they add
CSV_CONNECTIONS = 2  # a 100k-student request keeps a worker busy for most of a second

logger = logging.getLogger(__name__)


def cold_starts_and_memory(args, bodies: dict[str, Body], logs: Path) -> dict:
    """Launch → first 200 for the floor app and the server, then the server's memory."""
    probe = bodies["single"]
    floor_seconds, server_seconds, memory = [], [], {}
    for round_ in range(args.rounds):
        with gunicorn(f"floor-cold-{round_}", args.serve_venv, logs, app=FLOOR_APP) as floor:
            floor_seconds.append(wait_until_serving(floor, probe.data, probe.content_type))
        with gunicorn(f"server-cold-{round_}", args.serve_venv, logs) as server:
            server_seconds.append(wait_until_serving(server, probe.data, probe.content_type))
            if round_ == args.rounds - 1:
                memory = memory_after_predictions(server, bodies, args.rss_predictions)
    return {"floor_seconds": floor_seconds, "server_seconds": server_seconds, "memory": memory}


def memory_after_predictions(server: Server, bodies: dict[str, Body], predictions: int) -> dict:
    bulk, csv = bodies["bulk"], bodies["csv"]
    pids = server.worker_pids()
    booted = footprint.memory_of(pids)
    requests = math.ceil(predictions / bulk.students)
    url = server.url + "/predictdata"
    with ThreadPoolExecutor(RSS_CLIENTS) as pool:
        answers = pool.map(lambda _: post(url, bulk.data, bulk.content_type)[0], range(requests))
        statuses = set(answers)
    after_json = footprint.memory_of(pids)
    for _ in range(RSS_CSV_POSTS):
        statuses.add(post(url, csv.data, csv.content_type)[0])
    after_csv = footprint.memory_of(pids)
    if statuses != {200} or server.worker_pids() != pids:
        raise ServerError(f"memory run: statuses {statuses}, workers {pids} → "
                          f"{server.worker_pids()}:\n{server.log_tail()}")  # fmt: skip
    return {
        "predictions": requests * bulk.students,
        "csv_students_after": RSS_CSV_POSTS * csv.students,
        "booted": booted,
        "after_json": after_json,
        "after_csv": after_csv,
    }


def load_cells(args, bodies: dict[str, Body], pipeline: Path, logs: Path) -> dict:
    """Every wrk cell, rounds interleaved across cells; all servers up side by side."""
    with ExitStack() as stack:

        def start(name: str, venv: Path, app: str | None = None, **env: str) -> Server:
            return stack.enter_context(gunicorn(name, venv, logs, app=app, env=env))

        default = str(DEFAULT_ORT_THREADS)
        floor = start("floor", args.serve_venv, FLOOR_APP)
        model_floor = start("model-floor", args.serve_venv, MODEL_FLOOR_APP)
        server = start("server", args.serve_venv, **{THREADS_ENV: default})
        reference = start(
            "reference", Path(sys.prefix), REFERENCE_APP, **{REFERENCE_PIPELINE_ENV: str(pipeline)}
        )
        sweep = []
        if args.threads_sweep:
            for threads in SWEEP_THREADS:
                if threads != DEFAULT_ORT_THREADS:
                    name = f"server-t{threads}"
                    other = start(name, args.serve_venv, **{THREADS_ENV: str(threads)})
                    sweep.append((name, other))
        # Cells compared with each other run back to back, so they share the
        # machine's state at that moment.
        plan = []
        for body in ("single", "bulk", "csv"):
            plan += [(f"floor/{body}", floor, body), (f"model-floor/{body}", model_floor, body)]
            plan += [(f"server/{body}", server, body)]
            if body != "csv":
                plan += [(f"{name}/{body}", other, body) for name, other in sweep]
            if body == "single":
                plan += [("reference/single", reference, "single")]
        for running in {id(s): s for _, s, _ in plan}.values():
            wait_until_serving(running, bodies["single"].data, bodies["single"].content_type)
        warmup = min(1.0, args.duration)
        for _, target, body in plan:
            run_wrk(target.url, bodies[body], warmup, _connections(body), warmup=True)
            target.wait_idle()
        runs: dict[str, list] = {name: [] for name, _, _ in plan}
        for round_ in range(args.rounds):
            for name, target, body in plan:
                logger.info("round %d/%d: %s", round_ + 1, args.rounds, name)
                wrk = partial(run_wrk, target.url, bodies[body], args.duration, _connections(body))
                run, cpu = measure_cpu(target.cpu_ticks, wrk)
                runs[name].append(replace(run, cpu=cpu))
                target.wait_idle()
        floor_memory = footprint.memory_of(floor.worker_pids())
    return {"runs": runs, "floor_memory": floor_memory}


def _connections(body: str) -> int:
    return CSV_CONNECTIONS if body == "csv" else CONNECTIONS
