"""CSV requests: a header line (either spelling of the columns, any order, an
optional id column) and one line per student.

`parse` tries the fast path (server/csv_fast.py) first; `parse_text` is the
csv module path, which decides whatever the fast path defers and gives the
precise errors.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np

from model_store.contract import normalise_column_name
from server.batch import Batch
from server.contract import ServingContract
from server.csv_fast import FastCsvReader
from server.errors import ErrorCollector, InvalidRecords, MalformedBody, TooLarge
from server.rules import ID_FIELD, FeatureRule


class CsvParser:
    def __init__(self, contract: ServingContract, max_rows: int) -> None:
        self.rules = contract.rules
        self.max_rows = max_rows
        # One shared str object per category: validates a cell by lookup, and
        # onnxruntime converts repeated objects far faster than distinct equal ones.
        self.canonical_categories = {
            r.name: {c: c for c in r.categories} for r in self.rules if r.categories
        }
        self._fast = FastCsvReader(self)

    def parse(self, body: bytes) -> Batch:
        """A whole CSV body: all of it valid, or an error naming every bad cell."""
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedBody(
                f"the CSV body is not UTF-8 text (bad byte at offset {exc.start})"
            ) from None
        batch = self._fast.read(text)
        return batch if batch is not None else self.parse_text(text)

    def parse_text(self, text: str) -> Batch:
        """The body's text through the csv module: the reference reading."""
        reader = csv.reader(io.StringIO(text), strict=True)
        try:
            header = next(reader, None)
            records = [r for r in reader if r]
        except csv.Error as exc:
            raise MalformedBody(f"malformed CSV at line {reader.line_num}: {exc}") from None
        if not header:
            raise MalformedBody("empty CSV body: send a header line, then one line per student")
        layout = self.layout(header)
        self.check_size(len(records))
        return self.batch(records, layout)

    def check_size(self, rows: int) -> None:
        if rows > self.max_rows:
            raise TooLarge(
                f"{rows} students in one request; the limit is {self.max_rows}: split the file"
            )

    def layout(self, header: Sequence[str]) -> CsvLayout:
        """Where each needed column sits in this header; refuses duplicates and gaps."""
        names = [normalise_column_name(h) for h in header]
        seen: dict[str, int] = {}
        for position, name in enumerate(names):
            if name in seen:
                raise MalformedBody(
                    f"malformed CSV: column {name!r} appears twice in the header "
                    f"({header[seen[name]]!r} and {header[position]!r})"
                )
            seen[name] = position
        missing = [rule.name for rule in self.rules if rule.name not in seen]
        if missing:
            raise InvalidRecords(
                f"the CSV header lacks column(s) {', '.join(missing)}; "
                f"it needs {', '.join(r.name for r in self.rules)} (and optionally id)",
            )
        return CsvLayout(seen, len(header))

    def batch(
        self, records: Sequence[Sequence[str]], layout: CsvLayout, first_row: int = 1
    ) -> Batch:
        """Records (lists of cells) as model columns; rows are numbered from `first_row`."""
        for row, record in enumerate(records, first_row):
            if len(record) != layout.width:
                raise MalformedBody(
                    f"malformed CSV: row {row} has {len(record)} fields but the header has "
                    f"{layout.width}; check the delimiter (a comma) and the quoting"
                )
        cells = list(zip(*records, strict=True)) if records else [()] * layout.width
        errors = ErrorCollector()
        columns = {
            rule.name: _column(
                rule,
                self.canonical_categories.get(rule.name),
                cells[layout.positions[rule.name]],
                errors,
                first_row,
            )
            for rule in self.rules
        }
        errors.raise_if_any()
        ids = list(cells[layout.positions[ID_FIELD]]) if ID_FIELD in layout.positions else None
        return Batch(columns=columns, ids=ids, single=False, size=len(records))


class CsvLayout:
    def __init__(self, positions: dict[str, int], width: int) -> None:
        self.positions = positions
        self.width = width
        self.has_ids = ID_FIELD in positions


def _column(
    rule: FeatureRule,
    canonical: dict[str, str] | None,
    cells: tuple[str, ...],
    errors: ErrorCollector,
    first_row: int,
) -> list | np.ndarray:
    if canonical is not None:
        try:
            return list(map(canonical.__getitem__, cells))
        except KeyError:
            pass
    else:
        try:
            numbers = np.array(cells, dtype=np.float64)
        except ValueError:
            pass
        else:
            good = np.isfinite(numbers) & (numbers >= rule.minimum) & (numbers <= rule.maximum)
            if good.all():
                return numbers
    # Something is wrong in this column: find every bad cell.
    values = []
    for row, cell in enumerate(cells, first_row):
        value, problem = rule.parse_text(cell)
        if problem:
            errors.add(row, rule.name, problem)
        values.append(value)
    return values
