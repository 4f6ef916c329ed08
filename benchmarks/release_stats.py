"""A release benchmark run's numbers, as the verdict and the report use them.

`run.json` in each report folder and the committed `benchmarks/baseline.json` have
the same format, so accepting a run as the baseline is copying its run.json.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT_VERSION = 1


@dataclass(frozen=True)
class RequestStats:
    """One request type's results, as the verdict and the report need them."""

    requests: int
    failures: int
    requests_per_s: float
    students_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class RunStats:
    # What the run was: users, run time, cohort size, target, workers, cores…
    # Throughput is compared with a baseline only under the same conditions.
    conditions: dict
    by_type: dict[str, RequestStats]
    load_errors: int = 0  # exceptions in the load generator, not answers of the server
    locust_exit_code: int = 0
    info: dict = field(default_factory=dict)  # when, commit, model version: shown, not compared

    @property
    def students_per_s(self) -> float:
        return sum(s.students_per_s for s in self.by_type.values())

    @property
    def failures(self) -> int:
        return sum(s.failures for s in self.by_type.values())


def save(run: RunStats, path: Path) -> None:
    data = {"format": FORMAT_VERSION, **asdict(run)}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def load(path: Path) -> RunStats:
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: format {data.get('format')!r}, expected {FORMAT_VERSION}")
    return RunStats(
        conditions=data["conditions"],
        by_type={name: RequestStats(**s) for name, s in data["by_type"].items()},
        load_errors=data.get("load_errors", 0),
        locust_exit_code=data.get("locust_exit_code", 0),
        info=data.get("info", {}),
    )
