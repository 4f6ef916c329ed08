"""The request bodies every cell posts: one student, a 1,000-student cohort, a big CSV.

Students come from the synthetic sample (varied, realistically distributed);
their columns are the served model's features, read from its metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from model_store.schema import feature_names
from train.synthetic import generate

MEDIA_JSON = "application/json"
MEDIA_CSV = "text/csv"
# The example student of the API's documentation.
SINGLE_STUDENT = {
    "gender": "female",
    "race_ethnicity": "group B",
    "parental_level_of_education": "bachelor's degree",
    "lunch": "standard",
    "test_preparation_course": "none",
    "reading_score": 72,
    "writing_score": 74,
}
BULK_STUDENTS = 1_000
CSV_STUDENTS = 100_000


@dataclass(frozen=True)
class Body:
    name: str
    content_type: str
    data: bytes
    students: int
    path: Path  # the same bytes on disk, for wrk's Lua script


def make_bodies(metadata: dict, folder: Path, csv_students: int = CSV_STUDENTS) -> dict[str, Body]:
    """The three bodies, also written under `folder`; keyed "single", "bulk", "csv"."""
    columns = feature_names(metadata)
    cohort = generate(BULK_STUDENTS, seed=7)[columns]
    cohort_json = json.dumps(cohort.to_dict(orient="records")).encode()
    csv_text = generate(csv_students, seed=11)[columns].to_csv(index=False, lineterminator="\n")
    bodies = [
        ("single", MEDIA_JSON, json.dumps(SINGLE_STUDENT).encode(), 1),
        ("bulk", MEDIA_JSON, cohort_json, BULK_STUDENTS),
        ("csv", MEDIA_CSV, csv_text.encode(), csv_students),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, content_type, data, students in bodies:
        path = folder / f"{name}.body"
        path.write_bytes(data)
        made[name] = Body(name, content_type, data, students, path)
    return made
