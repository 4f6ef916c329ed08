"""What the release gate sends to POST /predictdata and the answer each must get: fresh
ids and students drawn from the served model's schema (GET /model). Standard library
only: the locustfile imports it, and pytest tests it without Locust.
"""

from __future__ import annotations

import json
import random
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.answers import MEDIA_CSV, MEDIA_JSON, Expected, problem, refusal
from benchmarks.students import Pool, csv_body, fresh_ids
from model_store.schema import CATEGORICAL

PREDICT_PATH = "/predictdata"
# Request names: Locust groups its statistics by them, thresholds.toml keys on them.
SINGLE, BULK_JSON, BULK_CSV, INVALID = "single", "bulk_json", "bulk_csv", "invalid"
DEFAULT_COHORT_SIZE = 500
INVALID_COHORT_MAX = 20  # students in a request with one bad field


def fetch_model_info(base_url: str) -> dict:
    """GET /model: the served version and its schema."""
    with urllib.request.urlopen(base_url.rstrip("/") + "/model", timeout=30) as response:
        return json.load(response)


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

    def _expected(self, ids: list[str], **kind) -> Expected:
        return Expected(self.target, {self.version: None}, len(ids), ids=ids, **kind)

    def single(self, rng: random.Random) -> Exchange:
        ids = fresh_ids(rng, 1)
        return Exchange(SINGLE, self.pool.json(rng, ids), MEDIA_JSON, self._expected(ids))

    def bulk_json(self, rng: random.Random) -> Exchange:
        ids = fresh_ids(rng, self.cohort_size)
        expected = self._expected(ids, cohort=True)
        return Exchange(BULK_JSON, self.pool.json(rng, ids), MEDIA_JSON, expected)

    def bulk_csv(self, rng: random.Random) -> Exchange:
        ids = fresh_ids(rng, self.cohort_size)
        expected = self._expected(ids, cohort=True, csv=True)
        return Exchange(BULK_CSV, self.pool.csv(rng, ids), MEDIA_CSV, expected)

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
