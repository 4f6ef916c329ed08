"""Live drift counts: students per field and cell, added up across Gunicorn workers.

Each worker adds every scored request's students to one in-memory tally (see
server/drift_count.py), and a thread reads it as counts per cell and writes them to
prometheus-client every FLUSH_SECONDS, and at exit. So /drift and /metrics lag
the workers by at most that, and a worker killed outright loses at most that.

- since the server started: `studypredict_drift_students_total{version, field,
  cell}`, counters (multiprocess files, kept when a worker dies, as every counter);
- the recent window, the last WINDOW_MINUTES minutes: each worker keeps one count
  vector per minute and publishes their sum as `studypredict_drift_recent_students`,
  a gauge summed over the live workers (a dead worker's recent students leave the
  window with it; its since-start counts stay).

`cell` is a category from the schema or a bin's index, and `version` the served
model's, so the series are bounded: cells x versions served since the start.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily

from server.drift import DRIFT, drift_report
from server.drift_count import CohortCounter
from server.drift_reference import DriftReference
from server.errors import traceback_without_messages
from server.metrics import workers_registry
from server.model import ServedModel

FLUSH_SECONDS = 1.0
WINDOW_MINUTES = 60
SINCE_START_NAME = "studypredict_drift_students"
RECENT_NAME = "studypredict_drift_recent_students"

logger = logging.getLogger(__name__)


class CohortDrift:
    """A served version's drift reference, for each request's own report: all a server
    keeps with live counting off (DRIFT_COUNTS=false)."""

    live = False  # GET /drift and /metrics have no counts to show

    def __init__(self, version: str, reference: DriftReference) -> None:
        self.version = version
        self.reference = reference
        self._counter = CohortCounter(reference)

    def as_arrays(self, columns: Mapping[str, Sequence]) -> dict[str, Sequence]:
        """The columns converted once, for both the model and `record`."""
        return self._counter.as_arrays(columns)

    def record(self, columns: Mapping[str, Sequence], size: int) -> None:
        """Nothing to count: live counting is off."""

    def cohort(self, columns: Mapping[str, Sequence], size: int) -> np.ndarray:
        """One request's counts, for its own report."""
        return self._counter.count(columns, size)


class DriftCounts(CohortDrift):
    """One worker's drift counts for one served version, and the cluster's totals."""

    live = True

    def __init__(
        self,
        version: str,
        reference: DriftReference,
        *,
        multiprocess_dir: str | None = None,
        flush_seconds: float = FLUSH_SECONDS,
        window_minutes: int = WINDOW_MINUTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(version, reference)
        self.window_minutes = window_minutes
        self._clock = clock
        self._flush_seconds = flush_seconds
        self._multiprocess_dir = multiprocess_dir
        # Outside multiprocess mode (in-process tests) the samples live in this registry.
        self._registry = CollectorRegistry(auto_describe=True)
        since_start = Counter(
            SINCE_START_NAME, "Students scored per field and category or bin since the start",
            ["version", "field", "cell"], registry=self._registry,
        )  # fmt: skip
        recent = Gauge(
            RECENT_NAME, f"Students scored per field and cell in the last {window_minutes} minutes",
            ["version", "field", "cell"], registry=self._registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self._cells = [(f.name, cell) for f in reference.fields for cell in f.cells]
        self._position = {cell: i for i, cell in enumerate(self._cells)}
        self._since_start = [since_start.labels(version, *cell) for cell in self._cells]
        self._recent = [recent.labels(version, *cell) for cell in self._cells]
        size = len(self._cells)
        self._tally = np.zeros(self._counter.tally_size, dtype=np.int64)  # larger requests'
        self._few: list[Mapping[str, Sequence]] = []  # small requests' columns, counted at flush
        self._minutes = np.zeros((window_minutes, size), dtype=np.int64)
        self._newest_minute: int | None = None
        self._published = np.zeros(size, dtype=np.int64)
        self._adding = threading.Lock()
        self._flushing = threading.Lock()
        self._thread: threading.Thread | None = None
        # What GET /metrics adds to the shared metrics: the distances, and outside
        # multiprocess mode the counts themselves.
        self.exposition = CollectorRegistry(auto_describe=True)
        self.exposition.register(_DistanceCollector(self))
        if self._multiprocess_dir is None:
            self.exposition.register(since_start)
            self.exposition.register(recent)

    def record(self, columns: Mapping[str, Sequence], size: int) -> None:
        """Count a scored request's students: a few students' columns are kept and
        counted with the others' at the next flush, in one vectorised count, since
        counting them one request at a time would cost more than scoring them."""
        if size <= self._counter.SMALL_BATCH:
            with self._adding:
                self._few.append(columns)
        else:
            with self._adding:  # tallied in place: the flush reads the tally as cells
                self._counter.tally(columns, size, self._tally)
        if self._thread is None:
            self._start_flushing()

    def flush(self) -> None:
        """Write this worker's pending counts and its recent window to prometheus-client."""
        with self._flushing:
            with self._adding:
                tally, few = self._tally.copy(), self._few
                self._tally[:] = 0
                self._few = []
            pending = self._counter.cells(tally)
            if few:
                students, joined = self._counter.joined(few)
                pending += self._counter.count(joined, students)
            row = self._roll_window()
            self._minutes[row] += pending
            window = self._minutes.sum(axis=0)
            for index in np.flatnonzero(pending):
                self._since_start[index].inc(int(pending[index]))
            for index in np.flatnonzero(window != self._published):
                self._recent[index].set(int(window[index]))
            self._published = window

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """All workers' counts (since the start, recent), this worker's flushed first."""
        self.flush()
        folder = self._multiprocess_dir
        registry = self._registry if folder is None else workers_registry(folder)
        since_start = np.zeros(len(self._cells), dtype=np.int64)
        recent = np.zeros(len(self._cells), dtype=np.int64)
        wanted = {f"{SINCE_START_NAME}_total": since_start, RECENT_NAME: recent}
        for sample in _samples(registry, wanted):
            labels = sample.labels
            index = self._position.get((labels["field"], labels["cell"]))
            if labels["version"] == self.version and index is not None:
                wanted[sample.name][index] += int(sample.value)
        return since_start, recent

    def _roll_window(self) -> int:
        """The current minute's row of the window, older minutes' rows cleared."""
        minute = int(self._clock() // 60)
        if self._newest_minute is None:
            self._newest_minute = minute
        elapsed = min(minute - self._newest_minute, self.window_minutes)
        for step in range(1, elapsed + 1):
            self._minutes[(self._newest_minute + step) % self.window_minutes] = 0
        self._newest_minute = max(minute, self._newest_minute)
        return self._newest_minute % self.window_minutes

    def _start_flushing(self) -> None:
        # Started on the first request, in the worker: threads do not survive a fork.
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_loop, name="drift-flush", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - a lost second beats counting stopping
                logger.error(
                    "drift counts not written this time; counting goes on\n%s",
                    traceback_without_messages(exc),
                )


def _samples(registry: CollectorRegistry, names: Mapping[str, object]) -> Iterator:
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name in names:
                yield sample


class _DistanceCollector:
    """The drift report as gauges, computed from the counts at each scrape."""

    def __init__(self, counts: DriftCounts) -> None:
        self._counts = counts

    def describe(self) -> list:
        return []  # computed at scrape: nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["version", "field", "window"]
        families = {
            "distance": GaugeMetricFamily(
                "studypredict_drift_psi", "Population stability index against the training split",
                labels=labels,
            ),
            "p_value": GaugeMetricFamily(
                "studypredict_drift_p_value", "Chi-square homogeneity test p-value (NaN: too few)",
                labels=labels,
            ),
            "flagged": GaugeMetricFamily(
                "studypredict_drift_flagged", "1 if the field drifted (Holm-corrected), else 0",
                labels=labels,
            ),
        }  # fmt: skip
        since_start, recent = self._counts.totals()
        for window, counts in (("since_start", since_start), ("recent", recent)):
            report = drift_report(self._counts.reference, counts)
            for field, result in report.fields.items():
                key = [self._counts.version, field, window]
                for name in ("distance", "p_value"):
                    value = getattr(result, name)
                    families[name].add_metric(key, float("nan") if value is None else value)
                families["flagged"].add_metric(key, float(result.verdict == DRIFT))
        yield from families.values()


def drift_counts_for(
    model: ServedModel, multiprocess_dir: str | None, live: bool = True
) -> CohortDrift | None:
    """Live counts for the served version (only its reference if not `live`), or None
    if it carries no drift reference."""
    reference = DriftReference.from_metadata(model.metadata, model.contract.model)
    if reference is None:
        return None
    if not live:
        return CohortDrift(model.version, reference)
    return DriftCounts(model.version, reference, multiprocess_dir=multiprocess_dir)
