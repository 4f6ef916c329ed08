"""The compute floor: one request's work in-process on one core, without HTTP.

Decode + validate (the server's own parsers), onnxruntime (the server's own
model object) and encode the answer as the resource does. What the server
needs per request beyond this is HTTP, Gunicorn and Falcon.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from benchmarks.server_bench.bodies import MEDIA_CSV, Body
from model_store.store import ModelStore
from server.config import DEFAULT_MAX_ROWS
from server.csv_input import CsvParser
from server.csv_output import csv_response
from server.json_input import JsonParser
from server.model import load_verified_model
from server.resources import json_response
from server.rules import rules_from_metadata

# Best of this many timed batches of calls: noise only ever adds time.
BATCHES = 5


@dataclass(frozen=True)
class ComputeRun:
    seconds_per_call: float  # CPU time of the calling thread: other processes hardly move it
    wall_seconds_per_call: float
    students: int

    @property
    def students_per_second(self) -> float:
        return self.students / self.seconds_per_call


def request_work(store: ModelStore, body: Body, threads: int = 1) -> Callable[[], bytes]:
    """A function doing what POST /predictdata does with `body`, minus HTTP."""
    model = load_verified_model(store, None, threads)
    rules = rules_from_metadata(model.metadata)
    encode = msgspec.json.Encoder().encode
    if body.content_type == MEDIA_CSV:
        parser = CsvParser(rules, DEFAULT_MAX_ROWS)

        def work() -> bytes:
            batch = parser.parse(body.data)
            return csv_response(model.scores(batch.columns), batch.ids)

    else:
        parser = JsonParser(rules, DEFAULT_MAX_ROWS)

        def work() -> bytes:
            batch = parser.parse(body.data)
            scores = model.scores(batch.columns)
            return encode(json_response(model.version, scores, batch))

    return work


def time_calls(work: Callable[[], object], seconds: float) -> tuple[float, float]:
    """(CPU, wall) seconds per call: calls batched to about seconds / BATCHES each.

    The best batch of each is kept. With one onnxruntime thread the whole
    request runs on this thread, so its CPU time is the request's cost.
    """
    start = time.perf_counter()
    work()  # warm up and size the batches
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(seconds / BATCHES / once))
    best_cpu = best_wall = float("inf")
    for _ in range(BATCHES):
        cpu, wall = time.thread_time(), time.perf_counter()
        for _ in range(calls):
            work()
        best_cpu = min(best_cpu, (time.thread_time() - cpu) / calls)
        best_wall = min(best_wall, (time.perf_counter() - wall) / calls)
    return best_cpu, best_wall


def measure(store: ModelStore, body: Body, seconds: float) -> ComputeRun:
    """Time the request work for `body` pinned to one core (the thread count is 1)."""
    work = request_work(store, body, threads=1)
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        return ComputeRun(*time_calls(work, seconds), body.students)
    finally:
        os.sched_setaffinity(0, cores)
