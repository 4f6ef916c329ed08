"""CSV requests: a header line (either spelling of the columns, any order, an
optional id column) and one line per student, as spreadsheets write them
(server/csv_text.py: the encoding, the separator, a decimal comma).

`read` tries the fast path (server/csv_fast.py) first; `parse_text` is the
csv module path, which decides whatever the fast path defers and gives the
precise errors. Rows are numbered as a spreadsheet numbers them: the header is
row 1, blank lines count.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model_store.contract import normalise_column_name
from server.batch import Batch
from server.contract import ServingContract
from server.csv_fast import FastCsvReader
from server.csv_text import COMMA, UTF8, CsvDialect, decode, first_line, sniff
from server.errors import (
    CSV_ROWS,
    ErrorCollector,
    FieldError,
    InvalidRecords,
    MalformedBody,
    TooLarge,
)
from server.rules import ID_FIELD, FeatureRule

FIRST_STUDENT_ROW = 2  # the header is row 1


@dataclass(frozen=True)
class CsvTable:
    """A CSV body read: the students, how the text was written, and (when asked
    for) the header and each student's line as sent, to answer them beside it."""

    batch: Batch
    encoding: str
    bom: bool
    dialect: CsvDialect
    header: str | None = None
    lines: list[str] | None = None

    @property
    def answer_needs_bom(self) -> bool:
        """A spreadsheet reads UTF-8 back as such only after a byte-order mark."""
        return self.bom or self.encoding != UTF8


class CsvParser:
    def __init__(self, contract: ServingContract, max_rows: int) -> None:
        self.rules = contract.rules
        self.max_rows = max_rows
        # Each category's code (its index in the contract): validates a cell and
        # encodes it in one lookup.
        self.category_codes = {
            r.name: contract.model.category_codes(r.name) for r in self.rules if r.categories
        }
        self._known_columns = {r.name for r in self.rules} | {ID_FIELD}
        self._fast = FastCsvReader(self)

    def parse(self, body: bytes) -> Batch:
        """A whole CSV body: all of it valid, or an error naming every bad cell."""
        return self.read(body).batch

    def read(self, body: bytes, keep_lines: bool = False) -> CsvTable:
        """The body decoded and parsed, with its lines too if `keep_lines`."""
        decoded = decode(body)
        text = decoded.text
        batch = self._fast.read(text)
        if batch is None:
            batch = self.parse_text(text)
        dialect = self.dialect(first_line(text))
        header, lines = student_lines(text, dialect) if keep_lines else (None, None)
        return CsvTable(batch, decoded.encoding, decoded.bom, dialect, header, lines)

    def parse_text(self, text: str) -> Batch:
        """The body's text through the csv module: the reference reading."""
        line = first_line(text)
        if not line:
            raise MalformedBody("empty CSV body: send a header line, then one line per student")
        dialect = self.dialect(line)
        header, *records = self.records(text, dialect)
        rows = [row for row, record in enumerate(records, FIRST_STUDENT_ROW) if record]
        records = [record for record in records if record]
        layout = self.layout(header, dialect)
        self.check_size(len(records))
        return self.batch(records, layout, rows)

    def dialect(self, header_line: str) -> CsvDialect:
        """The separator the header line is written with (server/csv_text.py)."""
        return sniff(header_line, self._known_columns, [r.name for r in self.rules])

    @staticmethod
    def records(text: str, dialect: CsvDialect, first_line_number: int = 1) -> list[list[str]]:
        """Every record of `text`, blank ones as [], through the csv module."""
        reader = csv.reader(io.StringIO(text), delimiter=dialect.delimiter, strict=True)
        try:
            return list(reader)
        except csv.Error as exc:
            line = reader.line_num + first_line_number - 1
            raise MalformedBody(f"malformed CSV at line {line}: {exc}") from None

    def check_size(self, rows: int) -> None:
        if rows > self.max_rows:
            raise TooLarge(
                f"{rows} students in one request; the limit is {self.max_rows}: split the file"
            )

    def layout(self, header: Sequence[str], dialect: CsvDialect = COMMA) -> CsvLayout:
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
                f"the CSV header (read as separated by {dialect.separator_name}) lacks "
                f"column(s) {', '.join(missing)}; "
                f"it needs {', '.join(r.name for r in self.rules)} (and optionally id)",
            )
        return CsvLayout(seen, len(header), dialect)

    def batch(
        self,
        records: Sequence[Sequence[str]],
        layout: CsvLayout,
        rows: Sequence[int] | None = None,
    ) -> Batch:
        """Records (lists of cells) as model columns; `rows` numbers them (default:
        from the first student's row, FIRST_STUDENT_ROW)."""
        rows = rows if rows is not None else range(FIRST_STUDENT_ROW, len(records) + 2)
        for row, record in zip(rows, records, strict=True):
            problem = self._width_problem(record, layout)
            if problem:
                raise MalformedBody(f"malformed CSV: row {row} {problem}")
        cells = _transposed(records, layout.width)
        errors = ErrorCollector(CSV_ROWS)
        columns = self._columns(cells, layout, rows, errors)
        errors.raise_if_any()
        ids = list(cells[layout.positions[ID_FIELD]]) if layout.has_ids else None
        return Batch(columns=columns, ids=ids, single=False, size=len(records))

    def problems(
        self, records: Sequence[Sequence[str]], layout: CsvLayout, rows: Sequence[int]
    ) -> list[FieldError]:
        """Every problem of these records, by row: what `batch` refuses, one by one."""
        errors = ErrorCollector(CSV_ROWS)
        fitting, fitting_rows = [], []
        for row, record in zip(rows, records, strict=True):
            problem = self._width_problem(record, layout)
            if problem:
                errors.add(row, None, f"malformed CSV: this row {problem}")
            else:
                fitting.append(record)
                fitting_rows.append(row)
        self._columns(_transposed(fitting, layout.width), layout, fitting_rows, errors)
        return errors.by_row()

    def _columns(self, cells, layout: CsvLayout, rows, errors: ErrorCollector) -> dict:
        return {
            rule.name: _column(
                rule,
                self.category_codes.get(rule.name),
                cells[layout.positions[rule.name]],
                errors,
                rows,
                layout.dialect.decimal_comma,
            )
            for rule in self.rules
        }

    @staticmethod
    def _width_problem(record: Sequence[str], layout: CsvLayout) -> str | None:
        if len(record) == layout.width:
            return None
        return (
            f"has {len(record)} fields but the header has {layout.width}; check the "
            f"separator ({layout.dialect.separator_name}, as in the header) and the quoting"
        )


class CsvLayout:
    def __init__(self, positions: dict[str, int], width: int, dialect: CsvDialect) -> None:
        self.positions = positions
        self.width = width
        self.dialect = dialect
        self.has_ids = ID_FIELD in positions


def student_lines(text: str, dialect: CsvDialect) -> tuple[str, list[str]]:
    """The header and each student's record as text, in the body's separator:
    the lines as sent when the csv module would split them so, else each record
    written again by csv.writer (quoting is not kept byte for byte)."""
    plain = text.replace("\r\n", "\n") if "\r" in text else text
    if '"' not in plain and "\r" not in plain:
        header, *lines = plain.split("\n")
        return header, [line for line in lines if line]
    header, *records = CsvParser.records(text, dialect)
    return render_record(header, dialect), [render_record(r, dialect) for r in records if r]


def render_record(record: Sequence[str], dialect: CsvDialect) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=dialect.delimiter, lineterminator="\n").writerow(record)
    return out.getvalue()[:-1]


def _transposed(records: Sequence[Sequence[str]], width: int) -> list[tuple[str, ...]]:
    """The records' cells column by column (all records have `width` cells)."""
    return list(zip(*records, strict=True)) if records else [()] * width


def _column(
    rule: FeatureRule,
    codes: dict[str, int] | None,
    cells: Sequence[str],
    errors: ErrorCollector,
    rows: Sequence[int],
    decimal_comma: bool,
) -> list | np.ndarray:
    """A column's values (codes of a category, numbers of a score), any bad cell
    added to `errors`."""
    if codes is None and decimal_comma:
        cells = [_point(cell) for cell in cells]
    if codes is not None:
        try:
            return np.fromiter(map(codes.__getitem__, cells), np.intp, len(cells))
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
    for row, cell in zip(rows, cells, strict=True):
        value, problem = rule.parse_text(cell)
        if problem:
            errors.add(row, rule.name, problem)
        values.append(value)
    if codes is not None:  # a bad cell's code (-1) is never read: `errors` refuses the batch
        return np.array([codes.get(value, -1) for value in values], dtype=np.intp)
    return values


def _point(cell: str) -> str:
    """A decimal comma ("72,5") as a point; a cell with both is left as it is."""
    return cell.replace(",", ".") if "," in cell and "." not in cell else cell
