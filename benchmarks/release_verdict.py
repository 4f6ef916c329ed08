"""Go or no-go: a pure function of a run's numbers, the thresholds and the baseline.

No I/O but reading thresholds.toml, so tests feed `judge` made-up runs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.release_stats import RunStats

PERCENTILES = ("p95", "p99")
TOTAL = "total"  # the run's students/s over every request type


@dataclass(frozen=True)
class Thresholds:
    # request type -> {"p95": ms, "p99": ms}; every type listed must appear in a run.
    latency_ms: dict[str, dict[str, float]]
    # Throughput (students/s, per scored type and in total) must stay at or above
    # this share of the baseline's.
    min_share_of_baseline: float


@dataclass(frozen=True)
class Comparison:
    """One metric of this run beside the baseline's."""

    request_type: str
    metric: str  # "students/s", "p95 ms", "p99 ms"
    baseline: float
    current: float

    @property
    def change_percent(self) -> float:
        return (self.current / self.baseline - 1) * 100 if self.baseline else float("nan")


@dataclass(frozen=True)
class Verdict:
    go: bool
    reasons: list[str]  # why it is a no-go; empty for a go
    notes: list[str] = field(default_factory=list)  # worth reading, not blocking
    comparisons: list[Comparison] = field(default_factory=list)


def load_thresholds(path: Path) -> Thresholds:
    data = tomllib.loads(path.read_text())
    try:
        latency = {
            name: {p: float(limits[f"{p}_ms"]) for p in PERCENTILES}
            for name, limits in data["latency"].items()
        }
        share = float(data["throughput"]["min_share_of_baseline"])
    except KeyError as exc:
        raise ValueError(f"{path}: missing setting {exc}") from None
    if not 0 < share <= 1:
        raise ValueError(f"{path}: throughput.min_share_of_baseline={share} must be in (0, 1]")
    return Thresholds(latency, share)


def comparable(run: RunStats, baseline: RunStats) -> list[str]:
    """The conditions that differ: throughput is compared only when there are none."""
    keys = sorted(set(run.conditions) | set(baseline.conditions))
    return [
        f"{k}: baseline {baseline.conditions.get(k)!r}, this run {run.conditions.get(k)!r}"
        for k in keys
        if run.conditions.get(k) != baseline.conditions.get(k)
    ]


def compare(run: RunStats, baseline: RunStats) -> list[Comparison]:
    """Students/s and latency side by side, for every type both runs have, then the total."""
    rows = []
    for name in sorted(set(run.by_type) & set(baseline.by_type)):
        now, then = run.by_type[name], baseline.by_type[name]
        if then.students_per_s or now.students_per_s:  # invalid requests score none
            rows.append(Comparison(name, "students/s", then.students_per_s, now.students_per_s))
        rows += [
            Comparison(name, "requests/s", then.requests_per_s, now.requests_per_s),
            Comparison(name, "p95 ms", then.p95_ms, now.p95_ms),
            Comparison(name, "p99 ms", then.p99_ms, now.p99_ms),
        ]
    rows.append(Comparison(TOTAL, "students/s", baseline.students_per_s, run.students_per_s))
    return rows


def judge(run: RunStats, thresholds: Thresholds, baseline: RunStats | None) -> Verdict:
    reasons: list[str] = []
    notes: list[str] = []
    if run.load_errors or run.locust_exit_code not in (0, 1):
        reasons.append(
            f"the load generator failed (Locust exit code {run.locust_exit_code}, "
            f"{run.load_errors} exception(s) in the locustfile): the numbers cannot be trusted"
        )
    for name, stats in run.by_type.items():
        if stats.failures:
            reasons.append(f"{name}: {stats.failures} of {stats.requests} requests failed")
    for name, limits in thresholds.latency_ms.items():
        stats = run.by_type.get(name)
        if stats is None or not stats.requests:
            reasons.append(f"{name}: no requests were made, so it was not measured")
            continue
        for p, limit in limits.items():
            value = getattr(stats, f"{p}_ms")
            if value > limit:
                reasons.append(f"{name}: {p} {value:g} ms is over the {limit:g} ms limit")
    comparisons: list[Comparison] = []
    if baseline is None:
        notes.append("no baseline: throughput was not compared")
    elif differences := comparable(run, baseline):
        notes.append(f"throughput not compared, the conditions differ: {'; '.join(differences)}")
    else:
        comparisons = compare(run, baseline)
        minimum = thresholds.min_share_of_baseline
        for c in comparisons:
            if c.metric == "students/s" and c.baseline > 0 and c.current < minimum * c.baseline:
                reasons.append(
                    f"{c.request_type}: {c.current:,.0f} students/s is {c.change_percent:+.1f}% "
                    f"against the baseline's {c.baseline:,.0f}; the floor is {minimum:.0%} of it"
                )
    return Verdict(go=not reasons, reasons=reasons, notes=notes, comparisons=comparisons)
