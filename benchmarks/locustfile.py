"""The release gate's load: the real traffic mix against POST /predictdata.

    locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000 --cohort-size 500

Users send back to back (no think time): a run measures capacity. A request fails on
a transport error, a wrong status or an answer that is not the students' (answers.py).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser
from locust.runners import WorkerRunner

from benchmarks import students
from benchmarks.answers import problem
from benchmarks.launcher import PREDICT_PATH
from benchmarks.students import DEFAULT_COHORT_SIZE, fetch_model_info

_traffic: students.Traffic | None = None  # one per process, built at test start from GET /model


@events.init_command_line_parser.add_listener
def _add_arguments(parser) -> None:
    what = "students per bulk request"
    parser.add_argument("--cohort-size", type=int, default=DEFAULT_COHORT_SIZE, help=what)


def numbers(environment, exit_code: int) -> dict:
    """Locust's own figures per request name; the rates share the run's window, so they add up."""
    cohort, by_type = environment.parsed_options.cohort_size, {}
    scored = {students.SINGLE: 1, students.BULK_JSON: cohort, students.BULK_CSV: cohort}
    for entry in environment.stats.entries.values():
        rate = entry.total_rps
        by_type[entry.name] = {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "requests_per_s": rate,
            "students_per_s": rate * (1 - entry.fail_ratio) * scored.get(entry.name, 0),
            **{f"p{p}_ms": entry.get_response_time_percentile(p / 100) for p in (50, 95, 99)},
        }
    exceptions = sum(e["count"] for e in environment.runner.exceptions.values())
    return {"by_type": by_type, "load_errors": exceptions, "locust_exit_code": exit_code}


@events.init.add_listener
def _write_numbers_at_exit(environment, runner, **_) -> None:
    """`numbers` beside the CSV files, by the master (a worker's are partial) at the very end."""
    prefix = environment.parsed_options.csv_prefix
    if prefix and not isinstance(runner, WorkerRunner):
        write = Path(f"{prefix}_numbers.json").write_text
        environment.events.quit.add_listener(
            lambda exit_code: write(json.dumps(numbers(environment, exit_code)))
        )


@events.test_start.add_listener
def _read_schema(environment, **_) -> None:
    """Fetch GET /model once per process (master and every worker), before any user starts."""
    global _traffic
    cohort_size = environment.parsed_options.cohort_size
    _traffic = students.Traffic(fetch_model_info(environment.host), cohort_size, random.Random())


class _PredictionUser(FastHttpUser):
    """Sends `kind` requests (a request name, also the Locust name) back to back."""

    abstract = True
    wait_time = constant(0)
    kind = ""

    def on_start(self) -> None:
        if _traffic is None:
            raise StopUser()  # the schema could not be read: test_start logged why
        self.traffic, self.rng = _traffic, random.Random()

    @task
    def send(self) -> None:
        exchange = self.traffic.make(self.kind, self.rng)
        headers = {"Content-Type": exchange.content_type}
        body, name = exchange.body, exchange.name
        with self.client.post(
            PREDICT_PATH, data=body, headers=headers, name=name, catch_response=True
        ) as response:
            content_type = response.headers.get("Content-Type") if response.headers else None
            wrong = problem(exchange.expected, response.status_code, content_type, response.content)
            if wrong:
                response.failure(wrong)
            else:
                response.success()


class SingleStudent(_PredictionUser):  # one student at a time (a teacher, an app): most requests
    weight, kind = 2, students.SINGLE


class CohortJson(_PredictionUser):  # a school system sending a cohort as a JSON array
    weight, kind = 1, students.BULK_JSON


class CohortCsv(_PredictionUser):  # a spreadsheet export uploaded as CSV
    weight, kind = 1, students.BULK_CSV


class InvalidRequests(_PredictionUser):  # mistakes at a steady pace, each to come back 4xx
    fixed_count, kind = 1, students.INVALID
    wait_time = constant(0.1)
