"""summary.md: the release benchmark's verdict and numbers, for people."""

from __future__ import annotations

import math

from benchmarks.release_stats import RunStats
from benchmarks.release_verdict import Thresholds, Verdict


def _number(value: float, digits: int = 0) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(header) - 1)
    return [f"| {' | '.join(cells)} |" for cells in (header, align, *rows)]


def ordered(run: RunStats, thresholds: Thresholds) -> list[str]:
    """Request types in the thresholds file's order, then any others."""
    listed = [name for name in thresholds.latency_ms if name in run.by_type]
    return listed + sorted(set(run.by_type) - set(listed))


def results_table(run: RunStats, thresholds: Thresholds) -> list[str]:
    header = [
        "request type",
        "requests",
        "failures",
        "requests/s",
        "students/s",
        "p50 ms",
        "p95 ms (limit)",
        "p99 ms (limit)",
    ]
    rows = []
    for name in ordered(run, thresholds):
        s = run.by_type[name]
        limits = thresholds.latency_ms.get(name, {})
        rows.append(
            [
                name,
                _number(s.requests),
                _number(s.failures),
                _number(s.requests_per_s, 1),
                _number(s.students_per_s),
                _number(s.p50_ms),
                f"{_number(s.p95_ms)} ({_number(limits.get('p95', math.nan))})",
                f"{_number(s.p99_ms)} ({_number(limits.get('p99', math.nan))})",
            ]
        )
    total_rps = sum(s.requests_per_s for s in run.by_type.values())
    rows.append(
        [
            "**total**",
            _number(sum(s.requests for s in run.by_type.values())),
            _number(run.failures),
            _number(total_rps, 1),
            _number(run.students_per_s),
            "",
            "",
            "",
        ]
    )
    return _table(header, rows)


def baseline_table(verdict: Verdict, order: list[str]) -> list[str]:
    """Each metric of each request type: the baseline's, this run's, the change."""
    rank = {name: position for position, name in enumerate(order)}
    rows = []
    for c in sorted(verdict.comparisons, key=lambda c: rank.get(c.request_type, len(rank))):
        digits = 1 if c.metric == "requests/s" else 0
        change = "–" if math.isnan(c.change_percent) else f"{c.change_percent:+.1f}%"
        rows.append(
            [
                c.request_type,
                c.metric,
                _number(c.baseline, digits),
                _number(c.current, digits),
                change,
            ]
        )
    return _table(["request type", "metric", "baseline", "this run", "change"], rows)


def _what_passed(verdict: Verdict, thresholds: Thresholds) -> str:
    passed = "every request answered right; p95 and p99 within their limits"
    if verdict.comparisons:
        passed += f"; throughput at least {thresholds.min_share_of_baseline:.0%} of the baseline's"
    return passed


def render(
    run: RunStats, verdict: Verdict, thresholds: Thresholds, baseline: RunStats | None
) -> str:
    c, info = run.conditions, run.info
    lines = [
        f"# Release benchmark {info.get('started_at', '')}",
        "",
        f"## Verdict: {'GO' if verdict.go else 'NO-GO'}",
        "",
        *[f"- {reason}" for reason in verdict.reasons],
        *([f"- {_what_passed(verdict, thresholds)}"] if verdict.go else []),
        *[f"- note: {note}" for note in verdict.notes],
        "",
        f"Target {c.get('target')}, model {info.get('model_version', '?')}, "
        f"commit {info.get('commit', '?')}. {c.get('users')} users sending back to back for "
        f"{c.get('run_time_s')} s, cohorts of {c.get('cohort_size')} students, "
        f"{c.get('cpu_count')} cores; Locust {info.get('locust_version', '?')}.",
        "",
        "## Per request type",
        "",
        *results_table(run, thresholds),
        "",
        "Students/s counts the students scored by successful requests; invalid requests "
        "score none. Latency is measured by Locust, client side, including queueing.",
        "",
    ]
    if verdict.comparisons and baseline is not None:
        lines += [
            f"## Against the baseline ({baseline.info.get('started_at', '?')}, "
            f"commit {baseline.info.get('commit', '?')})",
            "",
            *baseline_table(verdict, ordered(run, thresholds)),
            "",
        ]
    failures = info.get("failure_messages") or []
    if failures:
        lines += [
            "## Failures (most frequent)",
            "",
            *_table(
                ["request type", "count", "error"],
                [[n, str(k), e.replace("|", "\\|")] for n, k, e in failures],
            ),
            "",
        ]
    lines += [
        "Files: `report.html` (Locust's report: charts, every percentile, failures), "
        "`locust_*.csv`, `run.json` (these numbers), `server.log` and `locust.log`.",
        "",
    ]
    return "\n".join(lines)
