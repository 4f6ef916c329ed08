"""The release gate's load: the real traffic mix against POST /predictdata.

`python -m benchmarks.release_gate` runs it; by hand, from the repository root:

    locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000 --cohort-size 500

Users send back to back (no think time), so a run measures capacity: the throughput at
saturation and the latency under it. Statistics group by request type (single,
bulk_json, bulk_csv, invalid). A request fails on a transport error, a wrong status,
or a 200 that does not answer the students sent (benchmarks/answers.py); an invalid
request answered with the right 4xx is a success.
"""

from __future__ import annotations

import logging
import random

from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser
from locust.runners import WorkerRunner

from benchmarks.traffic import (
    DEFAULT_COHORT_SIZE,
    PREDICT_PATH,
    Exchange,
    Traffic,
    fetch_model_info,
)

logger = logging.getLogger(__name__)
_traffic: Traffic | None = None  # one per process, built at test start from GET /model


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:
    parser.add_argument("--cohort-size", type=int, default=DEFAULT_COHORT_SIZE,
                        env_var="LOCUST_COHORT_SIZE", help="students per bulk request")  # fmt: skip


@events.init.add_listener
def _master_writes_the_statistics(environment, runner, **_) -> None:
    # Workers forked by --processes keep the master's --json-file and would write their
    # own (partial) numbers over its final ones when they exit after it.
    if isinstance(runner, WorkerRunner):
        environment.parsed_options.json_file = None


@events.test_start.add_listener
def _read_schema(environment, **_) -> None:
    """Fetch GET /model once per process (master and every worker), before any user starts."""
    global _traffic
    cohort_size = environment.parsed_options.cohort_size
    _traffic = Traffic(fetch_model_info(environment.host), cohort_size, random.Random())
    logger.info("model %s: cohorts of %d", _traffic.version, cohort_size)


class _PredictionUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        if _traffic is None:
            raise StopUser()  # the schema could not be read: test_start logged why
        self.traffic, self.rng = _traffic, random.Random()

    def send(self, exchange: Exchange) -> None:
        headers = {"Content-Type": exchange.content_type}
        with self.client.post(PREDICT_PATH, data=exchange.body, headers=headers,
                              name=exchange.name, catch_response=True) as response:  # fmt: skip
            content_type = response.headers.get("Content-Type") if response.headers else None
            problem = exchange.problem(response.status_code, content_type, response.content)
            if problem:
                response.failure(problem)
            else:
                response.success()


class SingleStudent(_PredictionUser):
    weight = 2  # a teacher or an app asking for one student at a time: most requests

    @task
    def single(self) -> None:
        self.send(self.traffic.single(self.rng))


class CohortJson(_PredictionUser):
    weight = 1  # a school system sending a cohort as a JSON array

    @task
    def bulk_json(self) -> None:
        self.send(self.traffic.bulk_json(self.rng))


class CohortCsv(_PredictionUser):
    weight = 1  # a spreadsheet export uploaded as CSV

    @task
    def bulk_csv(self) -> None:
        self.send(self.traffic.bulk_csv(self.rng))


class InvalidRequests(_PredictionUser):
    """One user sending mistakes at a steady pace: a small share that must come back 4xx."""

    fixed_count = 1
    wait_time = constant(0.1)

    @task
    def invalid(self) -> None:
        self.send(self.traffic.invalid(self.rng))
