"""CSV requests: a header line (either spelling of the columns, any order, an
optional id column) and one line per student."""

from __future__ import annotations

import csv
import io

import numpy as np

from model_store.schema import normalise_column_name
from server.batch import Batch
from server.errors import ErrorCollector, InvalidRecords, MalformedBody, TooLarge
from server.rules import ID_FIELD, FeatureRule


class CsvParser:
    def __init__(self, rules: list[FeatureRule], max_rows: int) -> None:
        self._rules = rules
        self._max_rows = max_rows

    def parse(self, body: bytes) -> Batch:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedBody(
                f"the CSV body is not UTF-8 text (bad byte at offset {exc.start})"
            ) from None
        reader = csv.reader(io.StringIO(text), strict=True)
        try:
            header = next(reader, None)
            records = [r for r in reader if r]
        except csv.Error as exc:
            raise MalformedBody(f"malformed CSV at line {reader.line_num}: {exc}") from None
        if not header:
            raise MalformedBody("empty CSV body: send a header line, then one line per student")
        positions = self._column_positions(header)
        if len(records) > self._max_rows:
            raise TooLarge(
                f"{len(records)} students in one request; "
                f"the limit is {self._max_rows}: split the file"
            )
        for row, record in enumerate(records, 1):
            if len(record) != len(header):
                raise MalformedBody(
                    f"malformed CSV: row {row} has {len(record)} fields but the header has "
                    f"{len(header)}; check the delimiter (a comma) and the quoting"
                )
        cells = list(zip(*records, strict=True)) if records else [()] * len(header)
        errors = ErrorCollector()
        columns = {
            rule.name: self._column(rule, cells[positions[rule.name]], errors)
            for rule in self._rules
        }
        errors.raise_if_any()
        ids = list(cells[positions[ID_FIELD]]) if ID_FIELD in positions else None
        return Batch(columns=columns, ids=ids, single=False, size=len(records))

    def _column_positions(self, header: list[str]) -> dict[str, int]:
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
        return seen

    @staticmethod
    def _column(
        rule: FeatureRule, cells: tuple[str, ...], errors: ErrorCollector
    ) -> list | np.ndarray:
        if rule.categories is not None and rule.categories.issuperset(cells):
            return list(cells)
        if rule.categories is None:
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
        for row, cell in enumerate(cells, 1):
            value, problem = rule.parse_text(cell)
            if problem:
                errors.add(row, rule.name, problem)
            values.append(value)
        return values
