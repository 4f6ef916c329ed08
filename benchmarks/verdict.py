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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
THRESHOLDS, REPORTS = HERE / "thresholds.toml", HERE / "reports"
PERCENTILES = ("p95", "p99")
TOTAL = "total"  # the run's students/s over every request type


def arguments(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser every benchmark starts from: its docstring is its --help."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                     formatter_class=raw)  # fmt: skip
    parser.add_argument("--reports-dir", type=Path, default=REPORTS,
                        help="where this run's timestamped report folder goes")  # fmt: skip
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
    """By default whole numbers from 100 up, else 3 significant digits; "–" for none (a
    skipped row's NaN: its measure says why)."""
    if value is None or math.isnan(value):
        return "–"
    return format(value, spec or (",.0f" if abs(value) >= 100 else ".3g"))


def change(baseline: float | None, current: float | None) -> float:
    """Percent from the baseline's figure to this run's; NaN when there is none."""
    return (current / baseline - 1) * 100 if baseline and current is not None else math.nan


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
    def total(self) -> RequestStats:
        """Every type added up; a percentile does not add up, so it has none."""
        s = self.by_type.values()
        return RequestStats(sum(x.requests for x in s), sum(x.failures for x in s),
                            sum(x.requests_per_s for x in s), sum(x.students_per_s for x in s),
                            math.nan, math.nan, math.nan)  # fmt: skip

    def students_per_s(self) -> dict[str, float]:
        """Per request type that scores students, and in TOTAL."""
        rates = {name: s.students_per_s for name, s in self.by_type.items() if s.students_per_s}
        return rates | {TOTAL: self.total.students_per_s}


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
class Verdict:
    go: bool
    reasons: list[str]  # why it is a no-go; empty for a go
    notes: list[str] = field(default_factory=list)  # worth reading, not blocking
    # Students/s as (baseline, this run) per type both score, and in TOTAL, when compared.
    compared: dict[str, tuple[float, float]] = field(default_factory=dict)


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
    if baseline is None:
        return Verdict(not reasons, reasons, ["no baseline: throughput was not compared"])
    keys = sorted(set(run.conditions) | set(baseline.conditions))
    differences = [f"{k}: baseline {baseline.conditions.get(k)!r}, this run "
                   f"{run.conditions.get(k)!r}" for k in keys
                   if run.conditions.get(k) != baseline.conditions.get(k)]  # fmt: skip
    if differences:
        note = f"throughput not compared, the conditions differ: {'; '.join(differences)}"
        return Verdict(not reasons, reasons, [note])
    rates, least = run.students_per_s(), thresholds.min_share_of_baseline
    compared = {name: (then, rates.get(name, 0.0))
                for name, then in baseline.students_per_s().items()
                if name in run.by_type or name == TOTAL}  # fmt: skip
    reasons += [f"{name}: {now:,.0f} students/s is {change(then, now):+.1f}% against the "
                f"baseline's {then:,.0f}; the floor is {least:.0%} of it"
                for name, (then, now) in compared.items() if now < least * then]  # fmt: skip
    return Verdict(not reasons, reasons, [], compared)


def release_summary(run: RunStats, verdict: Verdict, thresholds: Thresholds,
                    baseline: RunStats | None) -> str:  # fmt: skip
    """summary.md: the verdict, then the numbers per request type beside the baseline's."""
    c, info = run.conditions, run.info
    passed = "every request answered right; p95 and p99 within their limits"
    if verdict.compared:
        passed += f"; throughput at least {thresholds.min_share_of_baseline:.0%} of the baseline's"
    rows = []
    for name, s in [*run.by_type.items(), (TOTAL, run.total)]:
        then = verdict.compared.get(name, (None,))[0]
        limits = thresholds.latency_ms.get(name, {})
        rows.append([name, figure(s.requests), figure(s.failures), figure(s.requests_per_s, ",.1f"),
                     figure(s.students_per_s), figure(then),
                     figure(change(then, s.students_per_s), "+.1f"), figure(s.p50_ms),
                     *(f"{figure(getattr(s, f'{p}_ms'))} ({figure(limits.get(p))})"
                       for p in PERCENTILES)])  # fmt: skip
    header = ["request type", "requests", "failures", "requests/s", "students/s",
              "baseline students/s", "change %", "p50 ms", "p95 ms (limit)",
              "p99 ms (limit)"]  # fmt: skip
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
        "score none. Latency is measured by Locust, client side, including queueing.",
    ]  # fmt: skip
    if verdict.compared and baseline is not None:
        lines.append(f"The baseline: {baseline.info.get('started_at', '?')}, commit "
                     f"{baseline.info.get('commit', '?')}.")  # fmt: skip
    if failures := info.get("failure_messages"):
        rows = [[name, count, error.replace("|", "\\|")] for name, count, error in failures]
        header = ["request type", "count", "error"]
        lines += ["", "## Failures (most frequent)", "", table(header, rows)]
    lines.append("\nFiles: `report.html` (Locust's report: charts, every percentile, "
                 "failures), `locust_*.csv`, `run.json` (these numbers), `server.log`, "
                 "`locust.log`.")  # fmt: skip
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
        if self.target is None or math.isnan(self.value):
            return "–"
        return "PASS" if self.target.met(self.value, self.ratio) else "MISS"


BENCH_COLUMNS = ("Cell", "Measure", "Value", "Floor (same run)", "Ratio", "Target", "Result")


def bench_table(rows: Sequence[Row], notes: Sequence[str] = ()) -> str:
    cells = [(r.cell, r.measure, figure(r.value), f"{r.floor} {figure(r.floor_value)}",
              figure(r.ratio, "#.3g"), r.target.text if r.target else "–", r.result)
             for r in rows]  # fmt: skip
    return table(BENCH_COLUMNS, cells) + "".join(f"\n- {note}" for note in notes) + "\n"
