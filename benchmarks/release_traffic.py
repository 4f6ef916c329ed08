"""What the release benchmark sends to POST /predictdata.

Bodies are drawn from the served model's schema (GET /model), so the load follows
the model rather than a copy of its features. Every request carries fresh ids and a
fresh draw of students, and the check its answer must pass (release_checks).
Standard library only, like release_checks: the locustfile imports both, and
pytest tests them without starting Locust.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks import release_checks as checks
from benchmarks.release_checks import MEDIA_CSV, MEDIA_JSON, Check
from model_store.schema import CATEGORICAL
from server.rules import ID_FIELD

PREDICT_PATH = "/predictdata"
SCHEMA_PATH = "/model"
# Request names: Locust groups its statistics by them, thresholds.toml keys on them.
SINGLE = "single"
BULK_JSON = "bulk_json"
BULK_CSV = "bulk_csv"
INVALID = "invalid"
DEFAULT_COHORT_SIZE = 500
POOL_SIZE = 4_096  # distinct students per process; cohorts are fresh draws from them
INVALID_COHORT_MAX = 20  # students in a request with one bad field


def fetch_model_info(base_url: str) -> dict:
    """GET /model: the served version and its schema."""
    with urllib.request.urlopen(base_url.rstrip("/") + SCHEMA_PATH, timeout=30) as response:
        return json.load(response)


def students_per_request(name: str, cohort_size: int) -> int:
    """Students scored by one successful request of that name (invalid ones score none)."""
    return {SINGLE: 1, BULK_JSON: cohort_size, BULK_CSV: cohort_size}.get(name, 0)


@dataclass(frozen=True)
class Exchange:
    """One request to send and the check its answer must pass."""

    name: str
    body: bytes
    content_type: str
    check: Check

    def problem(self, status: int, content_type: str | None, body: bytes | None) -> str | None:
        """What is wrong with an answer, or None. An unreadable answer is wrong too."""
        try:
            return self.check(status, content_type or "", body or b"")
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            return f"unreadable answer ({exc!r}): {(body or b'')[:200]!r}"


class Traffic:
    """Builds requests for one model: `single`, `bulk_json`, `bulk_csv`, `invalid`."""

    def __init__(self, model_info: dict, cohort_size: int, rng: random.Random) -> None:
        self.version = model_info["version"]
        self.target = model_info["schema"]["target"]["name"]
        self.features = model_info["schema"]["features"]
        self.names = [f["name"] for f in self.features]
        self.cohort_size = cohort_size
        self.pool = [self._draw(rng) for _ in range(POOL_SIZE)]
        # Serialised once, so a 500-student body costs the load generator a join,
        # not 500 encodings: it shares the machine's cores with the server.
        self._json = [json.dumps(s, separators=(",", ":"))[1:] for s in self.pool]
        self._csv = [_csv_line([s[n] for n in self.names]) for s in self.pool]

    def _draw(self, rng: random.Random) -> dict:
        return {
            f["name"]: rng.choice(f["categories"])
            if f["kind"] == CATEGORICAL
            else rng.randint(math.ceil(f["minimum"]), math.floor(f["maximum"]))
            for f in self.features
        }

    def single(self, rng: random.Random) -> Exchange:
        (ident,) = _ids(rng, 1)
        body = _json_record(ident, rng.choice(self._json))
        check = checks.prediction(self.version, self.target, ident)
        return Exchange(SINGLE, body.encode(), MEDIA_JSON, check)

    def bulk_json(self, rng: random.Random) -> Exchange:
        ids = _ids(rng, self.cohort_size)
        records = map(_json_record, ids, rng.choices(self._json, k=len(ids)))
        body = "[" + ",".join(records) + "]"
        check = checks.json_cohort(self.version, self.target, ids)
        return Exchange(BULK_JSON, body.encode(), MEDIA_JSON, check)

    def bulk_csv(self, rng: random.Random) -> Exchange:
        ids = _ids(rng, self.cohort_size)
        lines = map("{},{}".format, ids, rng.choices(self._csv, k=len(ids)))
        body = "\n".join([_csv_line([ID_FIELD, *self.names]), *lines, ""])
        return Exchange(BULK_CSV, body.encode(), MEDIA_CSV, checks.csv_cohort(self.target, ids))

    def invalid(self, rng: random.Random) -> Exchange:
        """A request the server must refuse with its 4xx, naming the bad row and field."""
        numeric = [f for f in self.features if f["kind"] != CATEGORICAL]
        categorical = [f["name"] for f in self.features if f["kind"] == CATEGORICAL]
        over = rng.choice(numeric)
        kinds: list[Callable[[], Exchange]] = [
            lambda: self._bad_json_field(rng, over["name"], over["maximum"] + 0.5),
            lambda: self._bad_json_field(rng, rng.choice(categorical), "unheard of"),
            lambda: self._bad_json_field(rng, rng.choice(self.names), None),  # missing
            lambda: self._bad_csv_cell(rng, rng.choice(numeric)["name"], "x"),
            lambda: Exchange(INVALID, b'[{"gender": ', MEDIA_JSON, checks.rejection(400)),
            lambda: Exchange(INVALID, b"students", "text/plain", checks.rejection(415)),
        ]
        return rng.choice(kinds)()

    def _bad_json_field(self, rng: random.Random, name: str, value: object) -> Exchange:
        """A small JSON cohort with one bad field in a random row; None: the field is missing."""
        students = [dict(s) for s in rng.choices(self.pool, k=rng.randint(1, INVALID_COHORT_MAX))]
        row = rng.randrange(len(students))
        if value is None:
            del students[row][name]
        else:
            students[row][name] = value
        check = checks.rejection(422, row + 1, name)
        return Exchange(INVALID, json.dumps(students).encode(), MEDIA_JSON, check)

    def _bad_csv_cell(self, rng: random.Random, name: str, value: str) -> Exchange:
        students = [dict(s) for s in rng.choices(self.pool, k=rng.randint(1, INVALID_COHORT_MAX))]
        row = rng.randrange(len(students))
        students[row][name] = value
        lines = [_csv_line(self.names), *(_csv_line([s[n] for n in self.names]) for s in students)]
        check = checks.rejection(422, row + 1, name)
        return Exchange(INVALID, ("\n".join(lines) + "\n").encode(), MEDIA_CSV, check)


def _ids(rng: random.Random, count: int) -> list[str]:
    prefix = f"{rng.getrandbits(40):010x}-"
    return [f"{prefix}{i}" for i in range(count)]


def _json_record(ident: str, fields: str) -> str:
    """`fields` is a serialised student without its opening brace."""
    return f'{{"{ID_FIELD}":"{ident}",{fields}'


def _csv_line(values: list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()
