"""Every judgement the benchmarks make, and the Markdown tables they report it in.

Thresholds come from benchmarks/thresholds.toml only. The release gate's go/no-go
(`judge`) is a pure function of a run's numbers, the thresholds and the baseline, so
tests feed it made-up runs; the server benchmark's targets are a PASS/MISS per row.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"
PERCENTILES = ("p95", "p99")
TOTAL = "total"  # the run's students/s over every request type


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(map(str, cells)) + " |" for cells in lines) + "\n"


def number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


@dataclass(frozen=True)
class RequestStats:
    requests: int
    failures: int
    requests_per_s: float
    students_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class RunStats:
    # What the run was (users, run time, cohort size, target, cores…): throughput is
    # compared with a baseline only under the same conditions.
    conditions: dict
    by_type: dict[str, RequestStats]
    load_errors: int = 0  # exceptions in the load generator, not answers of the server
    locust_exit_code: int = 0
    info: dict = field(default_factory=dict)  # when, commit, model version: shown only

    @property
    def students_per_s(self) -> float:
        return sum(s.students_per_s for s in self.by_type.values())

    @property
    def failures(self) -> int:
        return sum(s.failures for s in self.by_type.values())


@dataclass(frozen=True)
class Thresholds:
    latency_ms: dict[str, dict[str, float]]  # request type -> {"p95": ms, "p99": ms}
    min_share_of_baseline: float  # of the baseline's students/s, per type and in total
    server_bench: dict[str, float] = field(default_factory=dict)


def load_thresholds(path: Path = THRESHOLDS) -> Thresholds:
    data = tomllib.loads(path.read_text())
    try:
        latency = {name: {p: float(limits[f"{p}_ms"]) for p in PERCENTILES}
                   for name, limits in data["latency"].items()}  # fmt: skip
        share = float(data["throughput"]["min_share_of_baseline"])
    except KeyError as exc:
        raise ValueError(f"{path}: missing setting {exc}") from None
    if not 0 < share <= 1:
        raise ValueError(f"{path}: throughput.min_share_of_baseline={share} must be in (0, 1]")
    return Thresholds(latency, share, data.get("server_bench", {}))


@dataclass(frozen=True)
class Comparison:
    request_type: str
    metric: str
    baseline: float
    current: float

    @property
    def change_percent(self) -> float:
        return (self.current / self.baseline - 1) * 100 if self.baseline else math.nan


@dataclass(frozen=True)
class Verdict:
    go: bool
    reasons: list[str]  # why it is a no-go; empty for a go
    notes: list[str] = field(default_factory=list)  # worth reading, not blocking
    comparisons: list[Comparison] = field(default_factory=list)


def compare(run: RunStats, baseline: RunStats) -> list[Comparison]:
    """Students/s and latency beside the baseline's, per type both runs have, then the total."""
    rows = []
    for name in sorted(set(run.by_type) & set(baseline.by_type)):
        for metric in ("students_per_s", "requests_per_s", "p95_ms", "p99_ms"):
            then, now = getattr(baseline.by_type[name], metric), getattr(run.by_type[name], metric)
            if then or now:  # invalid requests score no students
                label = metric.replace("_per_s", "/s").replace("_ms", " ms")
                rows.append(Comparison(name, label, then, now))
    return rows + [Comparison(TOTAL, "students/s", baseline.students_per_s, run.students_per_s)]


def judge(run: RunStats, thresholds: Thresholds, baseline: RunStats | None) -> Verdict:
    reasons: list[str] = []
    if run.load_errors or run.locust_exit_code not in (0, 1):
        reasons.append(f"the load generator failed (Locust exit code {run.locust_exit_code}, "
                       f"{run.load_errors} exception(s) in the locustfile): the numbers cannot "
                       "be trusted")  # fmt: skip
    reasons += [f"{name}: {s.failures} of {s.requests} requests failed"
                for name, s in run.by_type.items() if s.failures]  # fmt: skip
    for name, limits in thresholds.latency_ms.items():
        stats = run.by_type.get(name)
        if stats is None or not stats.requests:
            reasons.append(f"{name}: no requests were made, so it was not measured")
            continue
        for p, limit in limits.items():
            if (value := getattr(stats, f"{p}_ms")) > limit:
                reasons.append(f"{name}: {p} {value:g} ms is over the {limit:g} ms limit")
    notes, comparisons = [], []
    keys = sorted(set(run.conditions) | set(baseline.conditions if baseline else ()))
    differences = baseline and [
        f"{k}: baseline {baseline.conditions.get(k)!r}, this run {run.conditions.get(k)!r}"
        for k in keys if run.conditions.get(k) != baseline.conditions.get(k)]  # fmt: skip
    if baseline is None:
        notes.append("no baseline: throughput was not compared")
    elif differences:
        notes.append(f"throughput not compared, the conditions differ: {'; '.join(differences)}")
    else:
        comparisons, least = compare(run, baseline), thresholds.min_share_of_baseline
        reasons += [f"{c.request_type}: {c.current:,.0f} students/s is {c.change_percent:+.1f}% "
                    f"against the baseline's {c.baseline:,.0f}; the floor is {least:.0%} of it"
                    for c in comparisons if c.metric == "students/s" and c.baseline > 0
                    and c.current < least * c.baseline]  # fmt: skip
    return Verdict(not reasons, reasons, notes, comparisons)


def release_summary(run: RunStats, verdict: Verdict, thresholds: Thresholds,
                    baseline: RunStats | None) -> str:  # fmt: skip
    """summary.md: the verdict, the numbers per request type, the baseline beside them."""
    c, info, limits = run.conditions, run.info, thresholds.latency_ms
    order = [name for name in limits if name in run.by_type]
    order += sorted(set(run.by_type) - set(order))
    passed = "every request answered right; p95 and p99 within their limits"
    if verdict.comparisons:
        passed += f"; throughput at least {thresholds.min_share_of_baseline:.0%} of the baseline's"
    rows = [[name, number(s.requests), number(s.failures), number(s.requests_per_s, 1),
             number(s.students_per_s), number(s.p50_ms),
             *(f"{number(getattr(s, p + '_ms'))} ({number(limits.get(name, {}).get(p))})"
               for p in PERCENTILES)]
            for name, s in ((name, run.by_type[name]) for name in order)]  # fmt: skip
    total_rps = sum(s.requests_per_s for s in run.by_type.values())
    rows.append(["**total**", number(sum(s.requests for s in run.by_type.values())),
                 number(run.failures), number(total_rps, 1), number(run.students_per_s), "", "",
                 ""])  # fmt: skip
    header = ["request type", "requests", "failures", "requests/s", "students/s", "p50 ms",
              "p95 ms (limit)", "p99 ms (limit)"]  # fmt: skip
    lines = [
        f"# Release benchmark {info.get('started_at', '')}", "",
        f"## Verdict: {'GO' if verdict.go else 'NO-GO'}", "",
        *[f"- {reason}" for reason in verdict.reasons], *([f"- {passed}"] if verdict.go else []),
        *[f"- note: {note}" for note in verdict.notes], "",
        f"Target {c.get('target')}, model {info.get('model_version', '?')}, commit "
        f"{info.get('commit', '?')}. {c.get('users')} users sending back to back for "
        f"{c.get('run_time_s')} s, cohorts of {c.get('cohort_size')} students, "
        f"{c.get('cpu_count')} cores; Locust {info.get('locust_version', '?')}.", "",
        "## Per request type", "", table(header, rows),
        "Students/s counts the students scored by successful requests; invalid requests "
        "score none. Latency is measured by Locust, client side, including queueing.", "",
    ]  # fmt: skip
    if verdict.comparisons and baseline is not None:
        rank = {name: position for position, name in enumerate(order)}
        ordered = sorted(verdict.comparisons, key=lambda c: rank.get(c.request_type, len(rank)))
        rows = [[c.request_type, c.metric, number(c.baseline, c.metric == "requests/s"),
                 number(c.current, c.metric == "requests/s"),
                 "–" if math.isnan(c.change_percent) else f"{c.change_percent:+.1f}%"]
                for c in ordered]  # fmt: skip
        header = ["request type", "metric", "baseline", "this run", "change"]
        lines += [f"## Against the baseline ({baseline.info.get('started_at', '?')}, commit "
                  f"{baseline.info.get('commit', '?')})", "", table(header, rows)]  # fmt: skip
    if failures := info.get("failure_messages"):
        rows = [[name, count, error.replace("|", "\\|")] for name, count, error in failures]
        header = ["request type", "count", "error"]
        lines += ["## Failures (most frequent)", "", table(header, rows)]
    lines += [
        "Files: `report.html` (Locust's report: charts, every percentile, failures), "
        "`locust_*.csv`, `run.json` (these numbers), `server.log` and `locust.log`."
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Target:
    text: str
    met: Callable[[float, float], bool]  # (value, ratio to its floor) -> met?


@dataclass(frozen=True)
class Row:
    """One row of the server benchmark's table: a figure beside its floor of the same run."""

    cell: str
    measure: str
    value: float
    floor: str  # what the floor is
    floor_value: float
    target: Target | None = None

    @property
    def ratio(self) -> float:
        return self.value / self.floor_value

    @property
    def result(self) -> str:
        if self.target is None:
            return "-"
        return "PASS" if self.target.met(self.value, self.ratio) else "MISS"


BENCH_COLUMNS = ("Cell", "Measure", "Value", "Floor (same run)", "Ratio", "Target", "Result")


def figure(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def bench_table(rows: Sequence[Row], notes: Sequence[str] = ()) -> str:
    cells = [(r.cell, r.measure, figure(r.value), f"{r.floor} {figure(r.floor_value)}",
              f"{r.ratio:#.3g}", r.target.text if r.target else "-", r.result)
             for r in rows]  # fmt: skip
    return table(BENCH_COLUMNS, cells) + "".join(f"\n- {note}" for note in notes) + "\n"
