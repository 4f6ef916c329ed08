"""Load a user's training CSV strictly, naming the file, line and column of every problem.

The file is parsed with the csv module rather than pandas so each problem can point at the
physical line a text editor shows (the header is line 1). Problems in the rows are collected,
up to MAX_PROBLEMS, so a data team can fix the file in one pass.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model_store.schema import normalise_column_name
from train.categories import DEFAULT_MIN_CATEGORY_ROWS, category_problems
from train.columns import (
    CATEGORICAL_FEATURES,
    COLUMNS,
    NUMERIC_FEATURES,
    SCORE_MAX,
    SCORE_MIN,
    TARGET,
)

MAX_PROBLEMS = 20
SCORE_COLUMNS = NUMERIC_FEATURES + (TARGET,)
# Spellings spreadsheets and data tools write for "no value". "none" is deliberately absent:
# it is a real category (test_preparation_course "none"); in a score column it is still
# rejected, as not a number.
MISSING_MARKERS = frozenset({"", "na", "n/a", "#n/a", "<na>", "nan", "null"})
MISSING_SCORE_MARKERS = MISSING_MARKERS | {"none"}


class DataError(ValueError):
    """The training file cannot be used as it is; the message says where and what to fix."""


# eq=False: comparing DataFrames has no single truth value, so identity is the only equality.
@dataclass(frozen=True, eq=False)
class TrainingData:
    """A checked training set: exactly COLUMNS in order, categoricals str, scores float64."""

    frame: pd.DataFrame
    sha256: str
    rows: int
    source: str
    dropped_rows: int = 0


def _decode(path: Path, raw: bytes) -> str:
    if b"\x00" in raw:
        raise DataError(
            f"{path}: contains NUL bytes, so it is a binary file (a spreadsheet workbook?), "
            "not CSV; save it as 'CSV UTF-8'"
        )
    try:
        return raw.decode("utf-8-sig")  # spreadsheets often start UTF-8 files with a BOM
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {line}: byte 0x{raw[error.start]:02x} is not UTF-8 text; "
            "save the file as 'CSV UTF-8'"
        ) from None


def _records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (first physical line, cells) for each non-blank record."""
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DataError(f"{path}: line {line}: not valid CSV ({error})") from None
        if row:
            yield line, row


def _column_indexes(path: Path, line: int, header: list[str]) -> dict[str, int]:
    """Map each required column to its position in the header, or explain why it cannot."""
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = normalise_column_name(cell)
        if name in COLUMNS and name in found:
            raise DataError(
                f"{path}: line {line}: columns {header[found[name]]!r} and {cell!r} both mean "
                f"{name!r}; keep one of them"
            )
        found.setdefault(name, index)
    missing = [name for name in COLUMNS if name not in found]
    if missing:
        found_header = ",".join(header)
        if len(found_header) > 200:  # a binary file can decode to one very long "header"
            found_header = found_header[:200] + "..."
        hint = ""
        if len(header) == 1 and "," not in header[0]:
            hint = (
                "; the header has no commas, so this does not look like a comma-separated file "
                "(save it as CSV with commas, not semicolons or tabs)"
            )
        raise DataError(
            f"{path}: line {line}: missing columns {', '.join(missing)}; found header "
            f"{found_header!r}{hint}. Expected: {', '.join(COLUMNS)} "
            "(spaces or '/' instead of '_' are fine, in any order)"
        )
    return {name: found[name] for name in COLUMNS}


def _score(text: str) -> tuple[float | None, str | None]:
    """The score in `text`, or None and what is wrong with it."""
    fix = f"write the score as a number from {SCORE_MIN} to {SCORE_MAX}"
    try:
        value = float(text)
    except ValueError:
        return None, f"{text!r} is not a number; {fix}"
    if not math.isfinite(value):
        return None, f"{text!r} is not a finite number; {fix}"
    if not SCORE_MIN <= value <= SCORE_MAX:
        return None, f"score {text} is outside {SCORE_MIN}-{SCORE_MAX}; correct it"
    return value, None


def _check_row(
    line: int, row: list[str], header: list[str], indexes: dict[str, int]
) -> tuple[dict[str, str | float], list[tuple[str, bool]]]:
    """One data row's usable values and its problems, each flagged True if a missing value."""
    values: dict[str, str | float] = {}
    problems: list[tuple[str, bool]] = []
    # Left to right, as the user reads the file.
    for name, index in sorted(indexes.items(), key=lambda item: item[1]):
        where, cell = f"line {line}, column {header[index].strip()!r}", row[index].strip()
        is_score = name in SCORE_COLUMNS
        if cell.lower() in (MISSING_SCORE_MARKERS if is_score else MISSING_MARKERS):
            shown = repr(cell) if cell else "empty"
            problems.append((f"{where}: missing value ({shown}); fill it in or drop the row", True))
        elif is_score:
            score, error = _score(cell)
            if error:
                problems.append((f"{where}: {error}", False))
            else:
                values[name] = score
        else:
            values[name] = cell
    return values, problems


def _problem_report(path: Path, problems: list[str]) -> DataError:
    shown = f" (first {MAX_PROBLEMS} shown)" if len(problems) > MAX_PROBLEMS else ""
    noun = "problem" if len(problems) == 1 else "problems"
    summary = f"{path}: {len(problems)} {noun}{shown}"
    return DataError("\n".join([summary, *problems[:MAX_PROBLEMS]]))


def load_training_data(
    path: str | Path,
    drop_incomplete: bool = False,
    min_category_rows: int = DEFAULT_MIN_CATEGORY_ROWS,
) -> TrainingData:
    """Read and check a training CSV; raise DataError listing what to fix.

    Missing values are an error unless `drop_incomplete`, which drops those rows and counts
    them: imputing a score would bias the model, and the server requires every field anyway.
    Once every row is readable, category values that differ only in case or surrounding
    spaces, or that are on fewer than `min_category_rows` kept rows, are refused too.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a CSV file" if path.is_dir() else "does not exist"
        raise DataError(f"{path}: {what}; check the path")
    raw = path.read_bytes()
    text = _decode(path, raw)
    if not text.strip():
        raise DataError(f"{path}: is empty; expected a header line and one line per student")

    records = _records(path, text)
    header_line, header = next(records)
    indexes = _column_indexes(path, header_line, header)
    kept: list[dict[str, str | float]] = []
    problems: list[str] = []
    # Per categorical column, each value as written -> the lines it is on.
    spellings: dict[str, dict[str, list[int]]] = {
        n: defaultdict(list) for n in CATEGORICAL_FEATURES
    }
    data_rows = dropped = 0
    for line, row in records:
        data_rows += 1
        if len(row) != len(header):
            problems.append(
                f"line {line}: has {len(row)} fields but the header has {len(header)}; "
                "quote values that contain commas and give every column a value"
            )
            continue
        values, row_problems = _check_row(line, row, header, indexes)
        incomplete = any(is_missing for _, is_missing in row_problems)
        # Other problems in a dropped row still count: dropping must not hide a broken file.
        problems += [
            message for message, is_missing in row_problems if not (is_missing and drop_incomplete)
        ]
        if incomplete and drop_incomplete:
            dropped += 1
        elif not row_problems:
            kept.append(values)
            for name in CATEGORICAL_FEATURES:
                spellings[name][row[indexes[name]]].append(line)

    if data_rows == 0:
        raise DataError(f"{path}: has a header but no data rows; add one line per student")
    if problems:
        raise _problem_report(path, problems)
    if not kept:
        raise DataError(f"{path}: all {dropped} data rows have missing values; none are left")
    # In the order the user reads the file: by first line, then left to right.
    category_checks = sorted(
        (line, indexes[name], message)
        for name in CATEGORICAL_FEATURES
        for line, message in category_problems(
            header[indexes[name]].strip(), spellings[name], min_category_rows
        )
    )
    if category_checks:
        raise _problem_report(path, [message for _, _, message in category_checks])

    frame = pd.DataFrame(kept, columns=list(COLUMNS)).astype(
        {name: "float64" for name in SCORE_COLUMNS}
    )
    return TrainingData(
        frame=frame,
        sha256=hashlib.sha256(raw).hexdigest(),
        rows=len(frame),
        source=str(path),
        dropped_rows=dropped,
    )
