"""The one generator of students and request bodies, for benchmarks and load tests,
drawn from a served model's features (as GET /model lists them), and the release gate's
requests with the answer each must get. No Locust here: pytest tests what it sends.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.answers import MEDIA_CSV, MEDIA_JSON, Expected, refusal
from benchmarks.launcher import http
from model_store.schema import CATEGORICAL
from server.rules import ID_FIELD  # the optional field the API echoes in its answers

# The gate's request names: Locust groups its statistics by them, thresholds.toml keys on them.
SINGLE, BULK_JSON, BULK_CSV, INVALID = "single", "bulk_json", "bulk_csv", "invalid"
DEFAULT_COHORT_SIZE = 500
INVALID_COHORT_MAX = 20  # students in a request with one bad field
# The example student of the API's documentation.
EXAMPLE = {
    "gender": "female",
    "race_ethnicity": "group B",
    "parental_level_of_education": "bachelor's degree",
    "lunch": "standard",
    "test_preparation_course": "none",
    "reading_score": 72,
    "writing_score": 74,
}


def draw(rng: random.Random, features: list[dict]) -> dict:
    """One student: any category; a whole, a fractional or an extreme score."""
    student = {}
    for feature in features:
        if feature["kind"] == CATEGORICAL:
            student[feature["name"]] = rng.choice(feature["categories"])
        else:
            low, high = feature["minimum"], feature["maximum"]
            whole = rng.randint(math.ceil(low), math.floor(high))
            fraction = round(rng.uniform(low, high), 2)
            student[feature["name"]] = rng.choice([whole, whole, fraction, low, high])
    return student


def csv_line(values: Sequence) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def csv_body(students: Sequence[dict]) -> bytes:
    lines = [csv_line(students[0]), *(csv_line(s.values()) for s in students)]
    return "\n".join([*lines, ""]).encode()


def json_body(students: Sequence[dict] | dict, ids: Sequence | None = None) -> bytes:
    """A student (a dict) or a list of them, each with its id when `ids` are given."""
    if ids is not None:
        students = [{ID_FIELD: i, **s} for i, s in zip(ids, students, strict=True)]
    return json.dumps(students).encode()


def fetch_model_info(base_url: str) -> dict:
    """GET /model: the served version and its schema."""
    return json.loads(http(base_url.rstrip("/") + "/model", timeout=30)[1])


@dataclass(frozen=True)
class Exchange:
    """One request to send and the answer it must get."""

    name: str
    body: bytes
    content_type: str
    expected: Expected


class Traffic:
    """The gate's requests for one model (GET /model's answer), by request name. Students are
    serialised once: a 500-student body costs the load generator a join, not 500 encodings."""

    def __init__(self, model_info: dict, cohort_size: int, rng: random.Random) -> None:
        self.version = model_info["version"]
        self.target = model_info["schema"]["target"]["name"]
        self.features = model_info["schema"]["features"]
        self.cohort_size = cohort_size
        self.students = [draw(rng, self.features) for _ in range(4_096)]
        self._json = [json.dumps(s, separators=(",", ":"))[1:] for s in self.students]
        self._csv = [csv_line(s.values()) for s in self.students]
        self._csv_header = csv_line([ID_FIELD, *self.students[0]])

    def make(self, name: str, rng: random.Random) -> Exchange:
        """A fresh request of that name, its students with fresh ids to come back in order."""
        if name == INVALID:
            return self._invalid(rng)
        count, as_csv = 1 if name == SINGLE else self.cohort_size, name == BULK_CSV
        prefix = f"{rng.getrandbits(40):010x}-"
        ids = [f"{prefix}{i}" for i in range(count)]
        cohort, versions = name != SINGLE, {self.version: None}
        expected = Expected(self.target, versions, count, cohort=cohort, csv=as_csv, ids=ids)
        if as_csv:
            drawn = rng.choices(self._csv, k=count)
            lines = [f"{i},{line}" for i, line in zip(ids, drawn, strict=True)]
            body = "\n".join([self._csv_header, *lines, ""])
            return Exchange(name, body.encode(), MEDIA_CSV, expected)
        drawn = rng.choices(self._json, k=count)
        records = [f'{{"{ID_FIELD}":"{i}",{s}' for i, s in zip(ids, drawn, strict=True)]
        body = records[0] if count == 1 else "[" + ",".join(records) + "]"
        return Exchange(name, body.encode(), MEDIA_JSON, expected)

    def _invalid(self, rng: random.Random) -> Exchange:
        """A request the server must refuse with its 4xx, naming the bad row and field."""
        numeric = [f for f in self.features if f["kind"] != CATEGORICAL]
        categorical = [f["name"] for f in self.features if f["kind"] == CATEGORICAL]
        over = rng.choice(numeric)
        kinds: list[Callable[[], Exchange]] = [
            lambda: self._bad_field(rng, over["name"], over["maximum"] + 0.5),
            lambda: self._bad_field(rng, rng.choice(categorical), "unheard of"),
            lambda: self._bad_field(rng, rng.choice(self.features)["name"], None),  # missing
            lambda: self._bad_field(rng, rng.choice(numeric)["name"], "x", as_csv=True),
            lambda: Exchange(INVALID, b'[{"gender": ', MEDIA_JSON, refusal(400)),
            lambda: Exchange(INVALID, b"students", "text/plain", refusal(415)),
        ]
        return rng.choice(kinds)()

    def _bad_field(self, rng: random.Random, name: str, value: object, as_csv=False) -> Exchange:
        """A small cohort with one bad field in a random row; None: the field is missing."""
        drawn = rng.choices(self.students, k=rng.randint(1, INVALID_COHORT_MAX))
        students = [dict(s) for s in drawn]
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
