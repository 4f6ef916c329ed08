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
        self._categories = {name: _Categories(values) for name, values in self._canonical.items()}

    def parse(self, body: bytes) -> Batch:
        """A whole CSV body: all of it valid, or an error naming every bad cell."""
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedBody(
                f"the CSV body is not UTF-8 text (bad byte at offset {exc.start})"
            ) from None
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
        self._check_size(len(records))
        return self.batch(records, layout)

    def _check_size(self, rows: int) -> None:
        if rows > self._max_rows:
            raise TooLarge(
                f"{rows} students in one request; the limit is {self._max_rows}: split the file"
            )

    def _parse_plain(self, text: str) -> Batch | None:
        """The fast path for the common case (no quoting, every cell valid): numpy's
        C reader (np.loadtxt) splits and converts the whole table, then each column
        is checked at once. None sends the body to the csv module path above, which
        decides and gives the precise errors; so this path accepts only what that
        one accepts, with the same values, and refuses only as it would.

        Measured on 100,000 students (5.3 MB): 0.92 s through csv.reader and
        per-column checks; 175 ms splitting on commas (700,000 small str objects)
        and mapping the cells through dicts; 70 ms here (80 with an id column), 46
        of them in loadtxt, of which 26 convert the scores. Copies of the text
        cost more than their size suggests (fresh pages): slicing the header off
        and stripping the last line break cost 18 ms, so neither is done.
        """
        text = _as_plain(text)
        if text is None:
            return None
        end = text.find("\n")
        header = text if end < 0 else text[:end]
        if not header:
            return None
        layout = self.layout(header.split(","))
        start = len(header) + 1  # of the students' lines
        lines = _count_lines(text, start)
        if lines > self._max_rows:
            self._check_size(_count_filled_lines(text[start:]))
        if not lines:
            return self.batch([], layout)
        table = _read_table(text, self._dtype(layout))
        if table is None:
            return None
        rows = len(table)
        # loadtxt skips blank lines, and only them, as the slow path does (csv.reader
        # reads each as an empty record). Counting them takes a scan (5 ms for 5 MB):
        # made only when loadtxt skipped some.
        if rows != lines and rows != _count_filled_lines(text[start:]):
            return None
        columns = self._checked_columns(table, layout)
        if columns is None:
            return None
        ids = table[_field(layout.positions[ID_FIELD])].tolist() if layout.has_ids else None
        return Batch(columns=columns, ids=ids, single=False, size=rows)

    def _checked_columns(self, table: np.ndarray, layout: CsvLayout) -> dict | None:
        """The model's columns from loadtxt's table, or None if any cell is not valid."""
        columns = {}
        for rule in self._rules:
            cells = table[_field(layout.positions[rule.name])]
            categories = self._categories.get(rule.name)
            column = categories.canonical(cells) if categories else _checked_scores(rule, cells)
            if column is None:
                return None
            columns[rule.name] = column
        return columns

    def _dtype(self, layout: CsvLayout) -> np.dtype:
        """loadtxt's row type for this header: categories as fixed-width text, scores
        as float64, the id as str objects (any length, kept exactly) and any other
        column as one character (read, never used)."""
        formats: list = ["U1"] * layout.width
        for rule in self._rules:
            categories = self._categories.get(rule.name)
            formats[layout.positions[rule.name]] = categories.dtype if categories else np.float64
        if layout.has_ids:
            formats[layout.positions[ID_FIELD]] = object
        return np.dtype([(_field(i), f) for i, f in enumerate(formats)])

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


class _Categories:
    """A categorical feature's values as a sorted fixed-width array, to check a
    whole column of cells, and turn it into the shared str objects, at once
    (about 4 ms per 100,000 cells)."""

    def __init__(self, canonical: dict[str, str]) -> None:
        values = sorted(canonical)
        # One character wider than the longest value: loadtxt cuts a longer cell to
        # this width, and the cut cell, still longer than every value, matches none.
        width = max(map(len, values)) + 1
        # ASCII values are compared as bytes: loadtxt reads a table with 'S' cells in
        # 47 ms against 70 with 'U'. A cell it cannot encode (beyond Latin-1) makes
        # it fail, and one it can differs from every ASCII value.
        kind = np.bytes_ if all(v.isascii() for v in values) else np.str_
        self.dtype = np.dtype((kind, width))
        self._sorted = np.array(values, dtype=self.dtype)
        self._objects = np.array([canonical[v] for v in values], dtype=object)

    def canonical(self, cells: np.ndarray) -> np.ndarray | None:
        """The cells as an object array of the canonical str objects, or None if
        any cell is not exactly one of the values."""
        codes = np.searchsorted(self._sorted, cells)
        np.minimum(codes, len(self._sorted) - 1, out=codes)
        if not (self._sorted[codes] == cells).all():
            return None
        return self._objects[codes]


def _field(position: int) -> str:
    return f"c{position}"


def _as_plain(text: str) -> str | None:
    """`text` with "\r\n" line ends as "\n" and no blank lines at its end, if the
    fast path reads it as csv.reader would (split on commas and line breaks,
    nothing more); else None."""
    if '"' in text or "\x00" in text:
        return None  # quoting is the csv module's; fixed-width cells drop a trailing NUL
    if "\r" in text:
        text = text.replace("\r\n", "\n")  # a line end to csv.reader, as "\n" is
        if "\r" in text:
            return None  # a lone CR ends a record there too, or is an error
    if text.endswith("\n\n"):
        # csv.reader reads a blank line as an empty record, which the slow path skips.
        # loadtxt skips blank lines too, but warns if there is nothing else.
        text = text.rstrip("\n")
    if _may_hold_a_long_line(text, csv.field_size_limit()):
        return None  # csv.reader refuses a cell over its size limit
    return text


def _read_table(text: str, dtype: np.dtype) -> np.ndarray | None:
    """The lines of `text` after its first (the header) as a structured array, or
    None if a row has another width or a score cell is not a number as loadtxt
    reads one. loadtxt accepts fewer numbers than float() ("1_0" and non-ASCII
    digits are left to the csv path), and reads those it accepts alike: it strips
    the same whitespace (str.isspace) and calls the same parser
    (PyOS_string_to_double)."""
    try:
        # comments=None: "#" is text in a cell, not the start of a comment.
        table = np.loadtxt(
            io.StringIO(text), dtype=dtype, delimiter=",", comments=None, skiprows=1, ndmin=1
        )
    except ValueError:
        return None
    return table


def _checked_scores(rule: FeatureRule, cells: np.ndarray) -> np.ndarray | None:
    numbers = np.ascontiguousarray(cells)  # a copy: the table can be freed
    good = np.isfinite(numbers) & (numbers >= rule.minimum) & (numbers <= rule.maximum)
    return numbers if good.all() else None


def _count_lines(text: str, start: int) -> int:
    """The lines of text[start:], blank ones too; the last may lack its line break."""
    if start >= len(text):
        return 0
    return text.count("\n", start) + (not text.endswith("\n"))


def _count_filled_lines(text: str) -> int:
    """The lines of `text` that are not blank: the records the slow path keeps."""
    while "\n\n" in text:
        text = text.replace("\n\n", "\n")
    text = text.strip("\n")
    return text.count("\n") + 1 if text else 0


def _may_hold_a_long_line(text: str, limit: int) -> bool:
    """True if a line of `text` may be longer than `limit`, csv.reader's cap on a
    cell, past which it refuses the body.

    Such a line, at least twice `block` long, covers a whole block of the text
    that starts at a multiple of `block`, and that block holds no line break: so
    only those blocks are looked at (80 for 5 MB, in microseconds). A line of
    between `block` and `limit` characters may also make it say True: that body
    then takes the slow path, which decides."""
    block = max(limit // 2, 1)
    return any(
        text.find("\n", start, start + block) < 0
        for start in range(0, len(text) - block + 1, block)
    )
