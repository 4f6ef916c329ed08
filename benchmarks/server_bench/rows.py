"""From a run's measurements to the table's rows, each with its floor, ratio and target."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.server_bench.bodies import Body
from benchmarks.server_bench.compute import ComputeRun
from benchmarks.server_bench.footprint import VenvSize
from benchmarks.server_bench.report import Row, Target
from benchmarks.server_bench.wrk import WrkRun

MB = 1e6  # sizes are in decimal megabytes, the larger (stricter) reading of the targets
SINGLE_SHARE_OF_FLOOR = 0.85
SINGLE_P99_MS = 3.0
BULK_SHARE_OF_FLOOR = 0.40
WORKER_RSS_MB = 100
VENV_MB = 200
COLD_START_SECONDS = 2.0


@dataclass(frozen=True)
class Measurements:
    bodies: dict[str, Body]
    runs: dict[str, list[WrkRun]]  # "server/single" -> every round
    compute: dict[str, ComputeRun]
    cold: dict
    floor_memory: dict
    venv: VenvSize

    def best(self, cell: str) -> WrkRun:
        return max(self.runs[cell], key=lambda run: run.requests_per_second)


def _rate(run: WrkRun) -> str:
    text = (f"{run.requests_per_second:,.0f} req/s · p50 {run.p50_ms:.2f} ms"
            f" · p99 {run.p99_ms:.2f} ms")  # fmt: skip
    if run.cpu is not None:
        text += (f" · server {run.server_cpu_us_per_request:,.0f} CPU-µs/req"
                 f" · others took {run.cpu.other_share:.0%} of the CPU")  # fmt: skip
    return text


def _students(run: WrkRun, body: Body) -> float:
    return run.requests_per_second * body.students


def _label(body: Body) -> str:
    return "1 student JSON" if body.students == 1 else f"{body.students:,} students {body.name}"


def _max_worker(memory: dict, key: str = "rss") -> float:
    return max(m[key] or 0 for m in memory.values()) / MB


def floor_rows(m: Measurements) -> list[Row]:
    rows = []
    for name in ("single", "bulk", "csv"):
        body, run = m.bodies[name], m.best(f"floor/{name}")
        rows.append(
            Row(f"HTTP floor, {_label(body)}", "req/s", run.requests_per_second, _rate(run),
                "is the floor", 1.0)
        )  # fmt: skip
    for name in ("single", "bulk", "csv"):
        body, run = m.bodies[name], m.best(f"model-floor/{name}")
        floor_run = m.best(f"floor/{name}")
        rows.append(
            Row(f"HTTP + onnxruntime floor, {_label(body)}", "req/s", run.requests_per_second,
                _rate(run), f"HTTP floor {floor_run.requests_per_second:,.1f} req/s",
                run.requests_per_second / floor_run.requests_per_second)
        )  # fmt: skip
    for name in ("single", "bulk", "csv"):
        body, done = m.bodies[name], m.compute[name]
        floor_run = m.best(f"floor/{name}")
        floor_us = floor_run.server_cpu_us_per_request or 1e6 / floor_run.requests_per_second
        us = done.seconds_per_call * 1e6
        rows.append(
            Row(f"Compute floor, {_label(body)}", "CPU-µs per call, 1 core", us,
                f"{us:,.0f} µs · {done.students_per_second:,.0f} students/s"
                f" (wall {done.wall_seconds_per_call * 1e6:,.0f} µs)",
                f"HTTP floor server {floor_us:,.0f} CPU-µs/req", us / floor_us)
        )  # fmt: skip
    return rows


def server_rows(m: Measurements, prefix: str = "server", label: str = "Server") -> list[Row]:
    single, floor_single = m.best(f"{prefix}/single"), m.best("floor/single")
    bulk, floor_bulk = m.best(f"{prefix}/bulk"), m.best("floor/bulk")
    bulk_body = m.bodies["bulk"]
    bulk_floor = _students(floor_bulk, bulk_body)
    return [
        Row(f"{label}, 1 student JSON", "req/s", single.requests_per_second, _rate(single),
            f"HTTP floor {floor_single.requests_per_second:,.0f} req/s",
            single.requests_per_second / floor_single.requests_per_second,
            Target(f"≥ {SINGLE_SHARE_OF_FLOOR:.0%} of floor",
                   lambda v, r: r >= SINGLE_SHARE_OF_FLOOR)),
        Row(f"{label}, 1 student JSON", "p99 ms", single.p99_ms, f"{single.p99_ms:.2f} ms",
            f"HTTP floor p99 {floor_single.p99_ms:.2f} ms", single.p99_ms / floor_single.p99_ms,
            Target(f"≤ {SINGLE_P99_MS:g} ms", lambda v, r: v <= SINGLE_P99_MS)),
        Row(f"{label}, {_label(bulk_body)}", "students/s", _students(bulk, bulk_body),
            f"{_students(bulk, bulk_body):,.0f} students/s ({_rate(bulk)})",
            f"{bulk_body.students:,} × HTTP floor {floor_bulk.requests_per_second:,.0f} req/s",
            _students(bulk, bulk_body) / bulk_floor,
            Target(f"≥ {BULK_SHARE_OF_FLOOR:.0%} of floor", lambda v, r: r >= BULK_SHARE_OF_FLOOR)),
        _cpu_row(f"{label}, 1 student JSON", single, floor_single),
        _cpu_row(f"{label}, {_label(bulk_body)}", bulk, floor_bulk),
        _model_floor_row(m, f"{label}, 1 student JSON", single, "single", SINGLE_SHARE_OF_FLOOR),
        _model_floor_row(m, f"{label}, {_label(bulk_body)}", bulk, "bulk", BULK_SHARE_OF_FLOOR),
    ]  # fmt: skip


def _model_floor_row(
    m: Measurements, cell: str, run: WrkRun, body: str, share: float | None = None
) -> Row:
    """The part of the gap that is ours: the same cell against HTTP + the model's run alone.

    The issue's shares of the HTTP floor leave no room for the model: the
    HTTP + onnxruntime floor itself is below 85% of it for one student. The same
    shares of this floor are what they ask of the server's own work."""
    floor = m.best(f"model-floor/{body}")
    target = None
    if share is not None:
        target = Target(f"≥ {share:.0%} of it (restated)", lambda v, r: r >= share)
    return Row(cell, "req/s vs HTTP + onnxruntime floor", run.requests_per_second,
               f"{run.requests_per_second:,.0f} req/s",
               f"HTTP + onnxruntime floor {floor.requests_per_second:,.0f} req/s",
               run.requests_per_second / floor.requests_per_second, target)  # fmt: skip


def _cpu_row(cell: str, run: WrkRun, floor: WrkRun) -> Row:
    """The workers' CPU per request: what req/s would show on a machine of our own."""
    ours, theirs = run.server_cpu_us_per_request, floor.server_cpu_us_per_request
    return Row(cell, "server CPU-µs/req (ratio: floor ÷ this)", ours, f"{ours:,.0f} µs",
               f"HTTP floor {theirs:,.0f} µs", theirs / ours)  # fmt: skip


def csv_and_reference_rows(m: Measurements) -> list[Row]:
    csv_body, bulk_body = m.bodies["csv"], m.bodies["bulk"]
    csv, floor_csv = m.best("server/csv"), m.best("floor/csv")
    json_students = _students(m.best("server/bulk"), bulk_body)
    ours, reference = m.best("server/single"), m.best("reference/single")
    floor_single = m.best("floor/single")
    return [
        _model_floor_row(m, f"Server, {_label(csv_body)} (-c2)", csv, "csv"),
        Row(f"Server, {_label(csv_body)} (-c2)", "students/s", _students(csv, csv_body),
            f"{_students(csv, csv_body):,.0f} students/s ({_rate(csv)})",
            f"{csv_body.students:,} × HTTP floor {floor_csv.requests_per_second:,.1f} req/s",
            _students(csv, csv_body) / _students(floor_csv, csv_body),
            Target(f"≥ JSON bulk {json_students:,.0f} students/s",
                   lambda v, r: v >= json_students)),
        Row("Reference: Flask, pickle + pandas per request, 1 student", "req/s",
            reference.requests_per_second, _rate(reference),
            f"HTTP floor {floor_single.requests_per_second:,.0f} req/s",
            reference.requests_per_second / floor_single.requests_per_second),
        Row("Speed-up over the reference, 1 student", "× req/s",
            ours.requests_per_second / reference.requests_per_second,
            f"{ours.requests_per_second / reference.requests_per_second:.1f}×",
            f"reference {reference.requests_per_second:,.0f} req/s",
            ours.requests_per_second / reference.requests_per_second),
    ]  # fmt: skip


def footprint_rows(m: Measurements) -> list[Row]:
    memory, venv = m.cold["memory"], m.venv
    floor_rss = _max_worker(m.floor_memory)
    floor_text = f"floor app worker {floor_rss:.0f} MB (after its cells)"

    def rss_row(stage: str, cell: str) -> Row:
        rss = _max_worker(memory[stage])
        text = (f"max {rss:.1f} MB (booted {_max_worker(memory['booted']):.1f}; "
                f"PSS {_max_worker(memory[stage], 'pss'):.1f})")  # fmt: skip
        target = Target(f"≤ {WORKER_RSS_MB} MB", lambda v, r: v <= WORKER_RSS_MB)
        return Row(cell, "VmRSS MB per worker", rss, text, floor_text, rss / floor_rss,
                   target if stage == "after_json" else None)  # fmt: skip

    cold, floor_cold = min(m.cold["server_seconds"]), min(m.cold["floor_seconds"])
    return [
        rss_row("after_json", f"Worker memory after {memory['predictions']:,} JSON predictions"),
        rss_row("after_csv", f"… then {memory['csv_students_after']:,} CSV students more"),
        Row("Serving venv (.venv-serve minus " + ", ".join(venv.excluded) + ")", "MB on disk",
            venv.disk_bytes / MB,
            f"{venv.disk_bytes / MB:.1f} MB (apparent {venv.apparent_bytes / MB:.1f} MB)",
            f"empty venv + falcon + gunicorn {venv.floor_disk_bytes / MB:.1f} MB",
            venv.disk_bytes / venv.floor_disk_bytes,
            Target(f"≤ {VENV_MB} MB", lambda v, r: v <= VENV_MB)),
        Row("Cold start: Procfile command → first 200 on /predictdata", "s", cold,
            f"{cold:.2f} s", f"floor app {floor_cold:.2f} s", cold / floor_cold,
            Target(f"≤ {COLD_START_SECONDS:g} s", lambda v, r: v <= COLD_START_SECONDS)),
    ]  # fmt: skip


def sweep_rows(m: Measurements) -> list[Row]:
    rows = []
    for prefix in sorted({name.split("/")[0] for name in m.runs if name.startswith("server-t")}):
        threads = prefix.removeprefix("server-t")
        rows += server_rows(m, prefix, f"Server, ORT threads={threads}")
    return rows


def build_rows(m: Measurements) -> list[Row]:
    return (
        floor_rows(m) + server_rows(m) + csv_and_reference_rows(m) + footprint_rows(m)
        + sweep_rows(m)
    )  # fmt: skip


def notes(m: Measurements, rounds: int, load_average: dict) -> list[str]:
    """What the reader needs to weigh the figures: method and how busy the machine was."""
    shares = sorted(run.cpu.other_share for runs in m.runs.values() for run in runs if run.cpu)
    median = shares[len(shares) // 2] if shares else 0.0
    before, after = load_average["before"][0], load_average["after"][0]
    return [
        f"wrk -t2 -c8 (-c2 for CSV), best of {rounds} interleaved rounds per cell (highest "
        "req/s, with that round's latencies); cold start: best of as many launches.",
        f"Other processes took {median:.0%} of the machine's CPU in the median wrk round "
        f"(max {shares[-1] if shares else 0:.0%}); load average {before:.2f} before, "
        f"{after:.2f} after. Each cell runs right after its floor, so ratios absorb part of "
        "that; CPU-µs per request (the server's workers' CPU time / requests) most of it.",
        "Latency at -c8 on 2 sync workers is mostly queueing: p50 ≈ 8 / (req/s).",
        "Bound on the CPU-µs/req rows' ratio: a server adding only the compute floor's CPU "
        f"to the HTTP floor's would reach at most {_bound(m, 'single'):.2f} for one student "
        f"and {_bound(m, 'bulk'):.2f} for 1,000 (1 / (1 + compute-floor ratio)). The HTTP + "
        "onnxruntime floor runs the served model on inputs built at start-up and nothing "
        "else: no server built on this model can pass it.",
    ]


def _bound(m: Measurements, name: str) -> float:
    floor = m.best(f"floor/{name}")
    floor_us = floor.server_cpu_us_per_request or 1e6 / floor.requests_per_second
    return 1 / (1 + m.compute[name].seconds_per_call * 1e6 / floor_us)
