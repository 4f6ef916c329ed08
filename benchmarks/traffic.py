"""What the release gate sends to POST /predictdata and the answer each must get: fresh
ids and students drawn from the served model's schema (GET /model). No Locust here:
the locustfile imports it, and pytest tests it without Locust.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.answers import MEDIA_CSV, MEDIA_JSON, Expected, problem, refusal
from benchmarks.launcher import http
from benchmarks.students import Pool, csv_body, fresh_ids
from model_store.schema import CATEGORICAL

# Request names: Locust groups its statistics by them, thresholds.toml keys on them.
SINGLE, BULK_JSON, BULK_CSV, INVALID = "single", "bulk_json", "bulk_csv", "invalid"
DEFAULT_COHORT_SIZE = 500
INVALID_COHORT_MAX = 20  # students in a request with one bad field


def fetch_model_info(base_url: str) -> dict:
    """GET /model: the served version and its schema."""
    return json.loads(http(base_url.rstrip("/") + "/model", timeout=30)[1])


def students_per_request(name: str, cohort_size: int) -> int:
    """Students scored by one successful request of that name (invalid ones score none)."""
    return {SINGLE: 1, BULK_JSON: cohort_size, BULK_CSV: cohort_size}.get(name, 0)


@dataclass(frozen=True)
class Exchange:
    """One request to send and the answer it must get."""

    name: str
    body: bytes
    content_type: str
    expected: Expected

    def problem(self, status: int, content_type: str | None, body: bytes | None) -> str | None:
        return problem(self.expected, status, content_type, body)


class Traffic:
    """Builds requests for one model: `single`, `bulk_json`, `bulk_csv`, `invalid`."""

    def __init__(self, model_info: dict, cohort_size: int, rng: random.Random) -> None:
        self.version = model_info["version"]
        self.target = model_info["schema"]["target"]["name"]
        self.features = model_info["schema"]["features"]
        self.cohort_size = cohort_size
        self.pool = Pool(self.features, rng)

    def single(self, rng: random.Random) -> Exchange:
        return self._students(rng, SINGLE, 1)

    def bulk_json(self, rng: random.Random) -> Exchange:
        return self._students(rng, BULK_JSON, self.cohort_size)

    def bulk_csv(self, rng: random.Random) -> Exchange:
        return self._students(rng, BULK_CSV, self.cohort_size, as_csv=True)

    def _students(self, rng: random.Random, name: str, count: int, as_csv=False) -> Exchange:
        ids = fresh_ids(rng, count)
        expected = Expected(self.target, {self.version: None}, count, cohort=name != SINGLE,
                            csv=as_csv, ids=ids)  # fmt: skip
        if as_csv:
            return Exchange(name, self.pool.csv(rng, ids), MEDIA_CSV, expected)
        return Exchange(name, self.pool.json(rng, ids), MEDIA_JSON, expected)

    def invalid(self, rng: random.Random) -> Exchange:
        """A request the server must refuse with its 4xx, naming the bad row and field."""
        numeric = [f for f in self.features if f["kind"] != CATEGORICAL]
        categorical = [f["name"] for f in self.features if f["kind"] == CATEGORICAL]
        over = rng.choice(numeric)
        kinds: list[Callable[[], Exchange]] = [
            lambda: self._bad_field(rng, over["name"], over["maximum"] + 0.5),
            lambda: self._bad_field(rng, rng.choice(categorical), "unheard of"),
            lambda: self._bad_field(rng, rng.choice(self.pool.names), None),  # missing
            lambda: self._bad_field(rng, rng.choice(numeric)["name"], "x", as_csv=True),
            lambda: Exchange(INVALID, b'[{"gender": ', MEDIA_JSON, refusal(400)),
            lambda: Exchange(INVALID, b"students", "text/plain", refusal(415)),
        ]
        return rng.choice(kinds)()

    def _bad_field(self, rng: random.Random, name: str, value: object, as_csv=False) -> Exchange:
        """A small cohort with one bad field in a random row; None: the field is missing."""
        pool = self.pool.students
        students = [dict(s) for s in rng.choices(pool, k=rng.randint(1, INVALID_COHORT_MAX))]
        row = rng.randrange(len(students))
        if value is None:
            del students[row][name]
        else:
            students[row][name] = value
        # JSON rows count students from 1; CSV rows are the spreadsheet's (header = row 1).
        expected = refusal(422, row + (2 if as_csv else 1), name)
        if as_csv:
            return Exchange(INVALID, csv_body(students), MEDIA_CSV, expected)
        return Exchange(INVALID, json.dumps(students).encode(), MEDIA_JSON, expected)
