"""How many students' scores a switch of versions would move, and by how much.

Both versions score one reference cohort in onnxruntime: by default the union of their parity
samples (holdout students kept in each version's metadata), or a CSV of students. Students are
named by their position (a CSV's line) or their `id`, never by their attributes.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_store.onnx_io import build_feeds, open_session, predict, records_to_columns
from model_store.schema import CATEGORICAL, NUMERIC, features, normalise_column_name
from model_store.store import ModelStore, StoreError

THRESHOLDS = (1, 3, 5)  # math points
LARGEST_SHOWN = 5
ID_FIELD = "id"


class CohortError(StoreError):
    """The reference cohort cannot be scored by both versions; the message says what to fix."""


@dataclass(frozen=True)
class Cohort:
    records: list[dict]
    labels: list[str]  # how each student is named in the report
    source: str
    skipped: int = 0  # students lacking a field one of the versions needs


@dataclass(frozen=True)
class ScoreDiff:
    old: str
    new: str
    cohort: Cohort
    before: np.ndarray
    after: np.ndarray
    group_fields: tuple[str, ...]

    @property
    def change(self) -> np.ndarray:
        return self.after - self.before

    def moved_more_than(self, points: float) -> int:
        return int(np.sum(np.abs(self.change) > points))

    def largest_moves(self, count: int = LARGEST_SHOWN) -> list[tuple[str, float, float]]:
        """(student, score before, score after), largest absolute change first."""
        order = np.argsort(-np.abs(self.change), kind="stable")[:count]
        return [(self.cohort.labels[i], float(self.before[i]), float(self.after[i])) for i in order]

    def mean_change_by_group(self) -> dict[str, dict[str, tuple[int, float]]]:
        """{field: {value: (students, mean change)}} for each categorical field of the cohort."""
        table: dict[str, dict[str, tuple[int, float]]] = {}
        for field in self.group_fields:
            values = np.array([str(r[field]) for r in self.cohort.records], dtype=object)
            table[field] = {
                value: (int(np.sum(values == value)), float(self.change[values == value].mean()))
                for value in sorted(set(values))
            }
        return table


def _needed(metadata: dict) -> set[str]:
    return {f["name"] for f in features(metadata)}


def parity_cohort(old_metadata: dict, new_metadata: dict) -> Cohort:
    """The union of both versions' parity samples, each student once."""
    needed = _needed(old_metadata) | _needed(new_metadata)
    records, labels, seen, skipped = [], [], set(), 0
    for which, metadata in (("A", old_metadata), ("B", new_metadata)):
        for index, record in enumerate(metadata["parity_sample"]["records"], 1):
            key = tuple(sorted((k, str(v)) for k, v in record.items()))
            if key in seen:
                continue
            seen.add(key)
            if not needed <= set(record):
                skipped += 1  # a version trained without a field the other needs
                continue
            records.append(record)
            labels.append(f"{which}'s parity sample #{index}")
    if not records:
        raise CohortError(
            "the versions' parity samples have no student with every field both need; "
            "give a cohort with --cohort FILE"
        )
    return Cohort(records, labels, "both versions' parity samples", skipped)


def read_cohort(path: Path, old_metadata: dict, new_metadata: dict) -> Cohort:
    """Students from a CSV (either header of the public data set), fields as both versions need."""
    kinds = {f["name"]: f["kind"] for f in features(old_metadata) + features(new_metadata)}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CohortError(f"cannot read cohort {path}: {exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [normalise_column_name(cell) for cell in next(reader)]
    except (StopIteration, csv.Error):
        raise CohortError(
            f"{path}: is empty; expected a header line and one line per student"
        ) from None
    missing = sorted(set(kinds) - set(header))
    if missing:
        raise CohortError(f"{path}: line 1: missing columns {', '.join(missing)}")
    records, labels = [], []
    try:
        for row in reader:
            if not row:
                continue
            line = reader.line_num
            if len(row) != len(header):
                raise CohortError(
                    f"{path}: line {line}: has {len(row)} fields, header {len(header)}"
                )
            cells = dict(zip(header, row, strict=True))
            record = {}
            for name, kind in kinds.items():
                value = cells[name].strip()
                if kind == NUMERIC:
                    try:
                        record[name] = float(value)
                    except ValueError:
                        record[name] = math.nan
                    if not math.isfinite(record[name]):
                        raise CohortError(
                            f"{path}: line {line}, column {name!r}: {value!r} is not a number"
                        )
                else:
                    record[name] = value
            records.append(record)
            labels.append(f"id {cells[ID_FIELD]}" if cells.get(ID_FIELD) else f"line {line}")
    except csv.Error as exc:
        raise CohortError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    if not records:
        raise CohortError(f"{path}: has a header but no students")
    return Cohort(records, labels, str(path))


def _scores(metadata: dict, onnx_bytes: bytes, records: Sequence[dict]) -> np.ndarray:
    session = open_session(onnx_bytes)
    return predict(session, build_feeds(metadata, records_to_columns(metadata, records)))


def compare(store: ModelStore, old: str, new: str, cohort_file: Path | None = None) -> ScoreDiff:
    """Score the cohort with both versions (each SHA-256-checked as it loads)."""
    before_model, after_model = store.load(old), store.load(new)
    cohort = (
        read_cohort(cohort_file, before_model.metadata, after_model.metadata)
        if cohort_file is not None
        else parity_cohort(before_model.metadata, after_model.metadata)
    )
    categorical = [
        f["name"]
        for f in features(before_model.metadata) + features(after_model.metadata)
        if f["kind"] == CATEGORICAL
    ]
    return ScoreDiff(
        old=old,
        new=new,
        cohort=cohort,
        before=_scores(before_model.metadata, before_model.onnx_bytes, cohort.records),
        after=_scores(after_model.metadata, after_model.onnx_bytes, cohort.records),
        group_fields=tuple(dict.fromkeys(categorical)),
    )


def format_diff(diff: ScoreDiff) -> str:
    students = len(diff.cohort.records)
    lines = [f"{diff.old} -> {diff.new}: {students} students from {diff.cohort.source}"]
    if diff.cohort.skipped:
        lines.append(
            f"  ({diff.cohort.skipped} left out: they lack a field one of the versions needs)"
        )
    for points in THRESHOLDS:
        moved = diff.moved_more_than(points)
        lines.append(
            f"  moved by more than {points} point{'s' if points != 1 else ''}: "
            f"{moved} ({moved / students:.1%})"
        )
    lines.append(
        f"  mean change {diff.change.mean():+.2f}, mean absolute change "
        f"{np.abs(diff.change).mean():.2f}"
    )
    lines.append("largest moves:")
    for label, before, after in diff.largest_moves():
        lines.append(f"  {label}: {before:.2f} -> {after:.2f} ({after - before:+.2f})")
    lines.append("mean change per group (students):")
    for field, values in diff.mean_change_by_group().items():
        shown = ", ".join(f"{value} {mean:+.2f} ({n})" for value, (n, mean) in values.items())
        lines.append(f"  {field}: {shown}")
    return "\n".join(lines)
