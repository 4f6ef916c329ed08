"""The release gate's load: the real traffic mix against POST /predictdata.

    locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000 --cohort-size 500

Users send back to back (no think time): a run measures capacity. A request fails on
a transport error, a wrong status or an answer that is not the students' (answers.py).
"""

from __future__ import annotations

import logging
import random

from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser
from locust.runners import WorkerRunner

from benchmarks import traffic
from benchmarks.launcher import PREDICT_PATH

logger = logging.getLogger(__name__)
_traffic: traffic.Traffic | None = None  # one per process, built at test start from GET /model


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:
    parser.add_argument("--cohort-size", type=int, default=traffic.DEFAULT_COHORT_SIZE,
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
    model_info = traffic.fetch_model_info(environment.host)
    _traffic = traffic.Traffic(model_info, cohort_size, random.Random())
    logger.info("model %s: cohorts of %d", _traffic.version, cohort_size)


class _PredictionUser(FastHttpUser):
    """Sends `kind` requests (a Traffic method's name, also the Locust name) back to back."""

    abstract = True
    wait_time = constant(0)
    kind = ""

    def on_start(self) -> None:
        if _traffic is None:
            raise StopUser()  # the schema could not be read: test_start logged why
        self.traffic, self.rng = _traffic, random.Random()

    @task
    def send(self) -> None:
        exchange: traffic.Exchange = getattr(self.traffic, self.kind)(self.rng)
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
    """A teacher or an app asking for one student at a time: most requests."""

    weight, kind = 2, traffic.SINGLE


class CohortJson(_PredictionUser):
    """A school system sending a cohort as a JSON array."""

    weight, kind = 1, traffic.BULK_JSON


class CohortCsv(_PredictionUser):
    """A spreadsheet export uploaded as CSV."""

    weight, kind = 1, traffic.BULK_CSV


class InvalidRequests(_PredictionUser):
    """One user sending mistakes at a steady pace: a small share that must come back 4xx."""

    fixed_count, kind = 1, traffic.INVALID
    wait_time = constant(0.1)
