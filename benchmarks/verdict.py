"""Every judgement the benchmarks make, and the Markdown tables they report it in.
Thresholds come from thresholds.toml only; `judge` is a pure function of a run, the
thresholds and the baseline, so tests feed it made-up runs.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
THRESHOLDS, REPORTS = HERE / "thresholds.toml", HERE / "reports"
PERCENTILES = ("p95_ms", "p99_ms")
TOTAL = "total"  # the run's students/s over every request type


def arguments(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser every benchmark starts from: its docstring is its --help."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(f"python -m {module}", description=doc, formatter_class=raw)
    where = "where this run's timestamped report folder goes"
    parser.add_argument("--reports-dir", type=Path, default=REPORTS, help=where)
    return parser


def report_dir(parent: Path, kind: str) -> Path:
    """A new folder `<kind>-<UTC timestamp>-<random>` in `parent` for one run's reports."""
    parent.mkdir(parents=True, exist_ok=True)
    stamp = f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-"
    return Path(tempfile.mkdtemp(prefix=stamp, dir=parent))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(map(str, cells)) + " |" for cells in lines) + "\n"


def figure(value: float | None, spec: str = "") -> str:
    """Whole numbers from 100 up, else 3 significant digits (or `spec`); "–" for none or NaN."""
    if value is None or math.isnan(value):
        return "–"
    return format(value, spec or (",.0f" if abs(value) >= 100 else ".3g"))


def change(baseline: float | None, current: float | None) -> float:
    """Percent from the baseline's figure to this run's; NaN when there is none."""
    return (current / baseline - 1) * 100 if baseline and current is not None else math.nan


def total(by_type: dict[str, dict]) -> dict:
    """Every request type added up; a percentile does not add up, so it has none."""
    keys = ("requests", "failures", "requests_per_s", "students_per_s")
    return {key: sum(stats[key] for stats in by_type.values()) for key in keys}


def load_thresholds(path: Path = THRESHOLDS) -> dict:
    """thresholds.toml, its release limits checked; ValueError naming what is wrong."""
    limits = tomllib.loads(path.read_text())
    try:
        share = limits["throughput"]["min_share_of_baseline"]
        for latency in limits["latency"].values():
            latency.update({p: float(latency[p]) for p in PERCENTILES})
    except KeyError as exc:
        raise ValueError(f"{path}: missing setting {exc}") from None
    if not 0 < share <= 1:
        raise ValueError(f"{path}: throughput.min_share_of_baseline={share} must be in (0, 1]")
    return limits


@dataclass(frozen=True)
class Verdict:
    reasons: list[str]  # why it is a no-go; none for a go
    notes: list[str]  # worth reading, not blocking
    # Students/s as (baseline, this run) per type both score, and in TOTAL, when compared.
    compared: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def go(self) -> bool:
        return not self.reasons


def judge(run: dict, thresholds: dict, baseline: dict | None) -> Verdict:
    """A run's (and a baseline's) as the release gate writes run.json."""
    reasons, by_type = [], run["by_type"]
    if run["load_errors"] or run["locust_exit_code"] not in (0, 1):
        reasons.append(
            f"the load generator failed (Locust exit code {run['locust_exit_code']}, "
            f"{run['load_errors']} exception(s) in the locustfile): the numbers cannot be trusted"
        )
    for name, s in by_type.items():
        if s["failures"]:
            reasons.append(f"{name}: {s['failures']} of {s['requests']} requests failed")
    for name, limits in thresholds["latency"].items():
        if not by_type.get(name, {}).get("requests"):
            reasons.append(f"{name}: no requests were made, so it was not measured")
            continue
        for p in PERCENTILES:
            if (value := by_type[name][p]) > limits[p]:
                reasons.append(f"{name}: {p[:3]} {value:g} ms is over the {limits[p]:g} ms limit")
    if baseline is None:
        return Verdict(reasons, ["no baseline: throughput was not compared"])
    then, now = baseline["conditions"], run["conditions"]
    differ = [
        f"{key}: baseline {then.get(key)!r}, this run {now.get(key)!r}"
        for key in sorted(then | now)
        if then.get(key) != now.get(key)
    ]
    if differ:
        note = "throughput not compared, the conditions differ: " + "; ".join(differ)
        return Verdict(reasons, [note])
    least, rates = thresholds["throughput"]["min_share_of_baseline"], students_per_s(by_type)
    compared = {
        name: (rate, rates.get(name, 0.0))
        for name, rate in students_per_s(baseline["by_type"]).items()
        if name in by_type or name == TOTAL
    }
    for name, (then, now) in compared.items():
        if now < least * then:
            reasons.append(
                f"{name}: {now:,.0f} students/s is {change(then, now):+.1f}% against the "
                f"baseline's {then:,.0f}; the floor is {least:.0%} of it"
            )
    return Verdict(reasons, [], compared)


def students_per_s(by_type: dict[str, dict]) -> dict[str, float]:
    """Per request type that scores students, and in TOTAL."""
    rates = {name: s["students_per_s"] for name, s in by_type.items() if s["students_per_s"]}
    return rates | {TOTAL: total(by_type)["students_per_s"]}


SUMMARY_COLUMNS = ("request type", "requests", "failures", "requests/s", "students/s")
SUMMARY_COLUMNS += ("baseline students/s", "change %", "p95 ms (limit)", "p99 ms (limit)")


def release_summary(run: dict, verdict: Verdict, thresholds: dict, baseline: dict | None) -> str:
    """summary.md: the verdict and one table (Locust's report.html has the rest)."""
    rows = []
    for name, s in [*run["by_type"].items(), (TOTAL, total(run["by_type"]))]:
        then, now = verdict.compared.get(name, (None,))[0], s["students_per_s"]
        limits = thresholds["latency"].get(name, {})
        counts = [figure(s["requests"]), figure(s["failures"]), figure(s["requests_per_s"], ",.1f")]
        rates = [figure(now), figure(then), figure(change(then, now), "+.1f")]
        latency = [f"{figure(s.get(p))} ({figure(limits.get(p))})" for p in PERCENTILES]
        rows.append([name, *counts, *rates, *latency])
    c, info = run["conditions"], run["info"]
    against = f" Baseline: {baseline['info']['started_at']}." if verdict.compared else ""
    lines = [
        f"# Release gate {info['started_at']}: {'GO' if verdict.go else 'NO-GO'}",
        "",
        *(f"- {reason}" for reason in verdict.reasons),
        *(f"- note: {note}" for note in verdict.notes),
        "",
        f"Model {info['model_version']}, commit {info['commit']}, Locust {info['locust_version']}: "
        f"{c['users']} users back to back for {c['run_time_s']} s, cohorts of {c['cohort_size']}, "
        f"against {c['target']} on {c['cpu_count']} cores.{against}",
        "",
        table(SUMMARY_COLUMNS, rows),
        "Students/s: scored by successful requests. Latency: Locust's, at the client, queueing "
        "included. Locust's `report.html` has every percentile, the charts and each failure.",
    ]
    return "\n".join(lines) + "\n"


Target = tuple[str, Callable[[float, float], bool]]  # its text, a test of (value, ratio)


@dataclass
class Row:
    """One row of the server benchmark's table: a figure beside its floor of the same run,
    and its target met or not (a skipped row's NaN is neither)."""

    cell: str
    measure: str
    value: float
    floor: str  # what the floor is
    floor_value: float
    test: InitVar[Target | None] = None
    ratio: float = field(init=False)
    target: str = field(init=False, default="–")
    result: str = field(init=False, default="–")

    def __post_init__(self, test: Target | None) -> None:
        self.ratio = self.value / self.floor_value
        if test is not None and not math.isnan(self.value):
            self.target, met = test[0], test[1](self.value, self.ratio)
            self.result = "PASS" if met else "MISS"


BENCH_COLUMNS = ("Cell", "Measure", "Value", "Floor (same run)", "Ratio", "Target", "Result")


def bench_table(rows: Sequence[Row], notes: Sequence[str] = ()) -> str:
    cells = []
    for r in rows:
        floor, ratio = f"{r.floor} {figure(r.floor_value)}", figure(r.ratio, "#.3g")
        cells.append((r.cell, r.measure, figure(r.value), floor, ratio, r.target, r.result))
    return table(BENCH_COLUMNS, cells) + "".join(f"\n- {note}" for note in notes) + "\n"
