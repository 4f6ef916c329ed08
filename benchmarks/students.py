"""The one generator of students and request bodies, for benchmarks and load tests.

Students are drawn from a served model's schema (`metadata["schema"]["features"]`, as
GET /model returns it), so the load follows the model rather than a copy of its
features. Standard library only.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Sequence

from model_store.schema import CATEGORICAL
from server.rules import ID_FIELD  # the optional field the API echoes in its answers

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
            student[feature["name"]] = rng.choice([whole, whole, round(rng.uniform(low, high), 2),
                                                   low, high])  # fmt: skip
    return student


def csv_line(values: Sequence) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def csv_body(students: Sequence[dict], ids: Sequence | None = None) -> bytes:
    names = list(students[0])
    rows = ([*([ids[i]] if ids else []), *s.values()] for i, s in enumerate(students))
    header = csv_line([*([ID_FIELD] if ids else []), *names])
    return "\n".join([header, *map(csv_line, rows), ""]).encode()


def json_body(students: Sequence[dict] | dict, ids: Sequence | None = None) -> bytes:
    if isinstance(students, dict):
        return json.dumps({ID_FIELD: ids[0], **students} if ids else students).encode()
    with_ids = [{ID_FIELD: i, **s} for i, s in zip(ids, students, strict=True)] if ids else students
    return json.dumps(with_ids).encode()


class Pool:
    """Students drawn once and serialised once: a 500-student body then costs the load
    generator a join, not 500 encodings (it shares the machine's cores with the server)."""

    def __init__(self, features: list[dict], rng: random.Random, size: int = 4_096) -> None:
        self.names = [f["name"] for f in features]
        self.students = [draw(rng, features) for _ in range(size)]
        self._json = [json.dumps(s, separators=(",", ":"))[1:] for s in self.students]
        self._csv = [csv_line(s.values()) for s in self.students]

    def json(self, rng: random.Random, ids: Sequence[str]) -> bytes:
        """A JSON array of len(ids) students, each with its id (one id: a single object)."""
        fields = rng.choices(self._json, k=len(ids))
        records = [f'{{"{ID_FIELD}":"{i}",{f}' for i, f in zip(ids, fields, strict=True)]
        return (records[0] if len(ids) == 1 else "[" + ",".join(records) + "]").encode()

    def csv(self, rng: random.Random, ids: Sequence[str] | None, count: int = 0) -> bytes:
        """A CSV of len(ids) students (or `count` without an id column)."""
        lines = rng.choices(self._csv, k=len(ids) if ids else count)
        if ids:
            lines = [f"{i},{line}" for i, line in zip(ids, lines, strict=True)]
        header = csv_line([*([ID_FIELD] if ids else []), *self.names])
        return "\n".join([header, *lines, ""]).encode()


def fresh_ids(rng: random.Random, count: int) -> list[str]:
    prefix = f"{rng.getrandbits(40):010x}-"
    return [f"{prefix}{i}" for i in range(count)]
