"""The CSV fast path: numpy's C reader for the common body (no quoting, every
cell valid), many times faster than csv.reader and per-cell checks.

Its one contract: `FastCsvReader.read(text)` returns exactly what
`CsvParser.parse_text(text)` (the csv module path) returns or raises, or None
to defer to it. It only accepts what that path accepts, with the same values,
and refuses only as it would; tests/server/test_csv_fast_path.py holds it over
arbitrary text.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import numpy as np

from server.batch import Batch
from server.csv_bytes import ByteReader, distinguishing_position
from server.rules import ID_FIELD, FeatureRule

if TYPE_CHECKING:
    from server.csv_input import CsvLayout, CsvParser


class FastCsvReader:
    def __init__(self, parser: CsvParser) -> None:
        self._parser = parser
        self._rules = parser.rules
        self._categories = {
            name: _Categories(codes) for name, codes in parser.category_codes.items()
        }
        self._bytes = ByteReader(self._rules, parser.category_codes)

    def read(self, text: str) -> Batch | None:
        """The body as `CsvParser.parse_text` reads it, or None to let it decide.

        np.loadtxt splits and converts the whole table, then each column is
        checked at once. Copies of the text cost more than their size suggests
        (fresh pages), so the header is not sliced off nor the last line break
        stripped.
        """
        text = _as_plain(text)
        if text is None:
            return None
        end = text.find("\n")
        header = text if end < 0 else text[:end]
        if not header:
            return None
        dialect = self._parser.dialect(header)
        layout = self._parser.layout(header.split(dialect.delimiter), dialect)
        start = len(header) + 1  # of the students' lines
        lines = _count_lines(text, start)
        if lines > self._parser.max_rows:
            self._parser.check_size(_count_filled_lines(text[start:]))
        if not lines:
            return self._parser.batch([], layout)
        if lines >= KEYED_FROM:
            read = self._bytes.read(text, start, lines, layout)
            if read is not None:
                columns, ids = read
                return Batch(columns=columns, ids=ids, single=False, size=lines)
        table = _read_table(text, self._dtype(layout), dialect.delimiter)
        if table is None:
            return None
        rows = len(table)
        # loadtxt skips blank lines, and only them, as the csv path does (csv.reader
        # reads each as an empty record); counting them takes a scan, made only
        # when loadtxt skipped some.
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
            column = categories.codes(cells) if categories else _checked_scores(rule, cells)
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


# From about this many cells (or rows, for server/csv_bytes.py), finding categories
# by a byte beats a binary search, whose fewer numpy calls cost less for a few students.
KEYED_FROM = 100


class _Categories:
    """A categorical feature's values as a sorted fixed-width array, to check a
    whole column of cells, and turn it into the categories' codes, at once."""

    def __init__(self, codes: dict[str, int]) -> None:
        values = sorted(codes)
        # At least one character wider than the longest value: loadtxt cuts a longer
        # cell to this width, and the cut cell, still longer than every value,
        # matches none.
        width = max(map(len, values)) + 1
        # ASCII values are compared as bytes, which loadtxt reads faster than 'U'
        # cells. A cell it cannot encode (beyond Latin-1) makes it fail, and one it
        # can differs from every ASCII value.
        ascii_values = all(v.isascii() for v in values)
        if ascii_values:
            width = -(-width // 8) * 8  # whole 8-byte words, compared as integers
        kind = np.bytes_ if ascii_values else np.str_
        self.dtype = np.dtype((kind, width))
        self._sorted = np.array(values, dtype=self.dtype)
        self._codes = np.array([codes[v] for v in values], dtype=np.intp)
        self._key = distinguishing_position([v.encode() for v in values]) if ascii_values else None
        if self._key is not None:
            # The value each byte at the key's position points to (any, for a byte
            # no value has there: the comparison then refuses the cell).
            self._place_of_byte = np.zeros(256, dtype=np.intp)
            self._place_of_byte[self._sorted.view(np.uint8)[self._key :: width]] = np.arange(
                len(values)
            )
            self._words = self._sorted.view(np.uint64).reshape(len(values), width // 8)

    def codes(self, cells: np.ndarray) -> np.ndarray | None:
        """The cells' codes, or None if any cell is not exactly one of the values."""
        if self._key is not None and len(cells) >= KEYED_FROM:
            return self._codes_by_key(np.ascontiguousarray(cells))
        places = np.searchsorted(self._sorted, cells)
        np.minimum(places, len(self._sorted) - 1, out=places)
        if not (self._sorted[places] == cells).all():
            return None
        return self._codes[places]

    def _codes_by_key(self, cells: np.ndarray) -> np.ndarray | None:
        """`codes`, the value found by one byte of each cell and checked by comparing
        every byte (loadtxt pads a cell with NULs, as the values are): several times
        faster than a binary search of the values."""
        width = self.dtype.itemsize
        places = self._place_of_byte[cells.view(np.uint8)[self._key :: width]]
        words = cells.view(np.uint64).reshape(len(cells), width // 8)
        if not (self._words[places] == words).all():
            return None
        return self._codes[places]


def _field(position: int) -> str:
    return f"c{position}"


def _as_plain(text: str) -> str | None:
    """`text` with "\\r\\n" line ends as "\\n" and no blank lines at its end, if the
    fast path reads it as csv.reader would (split at the separator and line
    breaks, nothing more); else None."""
    if '"' in text or "\x00" in text:
        return None  # quoting is the csv module's; fixed-width cells drop a trailing NUL
    if "\r" in text:
        text = text.replace("\r\n", "\n")  # a line end to csv.reader, as "\n" is
        if "\r" in text:
            return None  # a lone CR ends a record there too, or is an error
    if text.endswith("\n\n"):
        # csv.reader reads a blank line as an empty record, which the csv path skips.
        # loadtxt skips blank lines too, but warns if there is nothing else.
        text = text.rstrip("\n")
    if _may_hold_a_long_line(text, csv.field_size_limit()):
        return None  # csv.reader refuses a cell over its size limit
    return text


def _read_table(text: str, dtype: np.dtype, delimiter: str) -> np.ndarray | None:
    """The lines of `text` after its first (the header) as a structured array, or
    None if a row has another width or a score cell is not a number as loadtxt
    reads one. loadtxt accepts fewer numbers than float() ("1_0", non-ASCII
    digits and a decimal comma are left to the csv path), and reads those it
    accepts alike: it strips the same whitespace (str.isspace) and calls the same
    parser (PyOS_string_to_double)."""
    try:
        # comments=None: "#" is text in a cell, not the start of a comment.
        return np.loadtxt(
            io.StringIO(text), dtype=dtype, delimiter=delimiter, comments=None, skiprows=1, ndmin=1
        )
    except ValueError:
        return None


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
    """The lines of `text` that are not blank: the records the csv path keeps."""
    while "\n\n" in text:
        text = text.replace("\n\n", "\n")
    text = text.strip("\n")
    return text.count("\n") + 1 if text else 0


def _may_hold_a_long_line(text: str, limit: int) -> bool:
    """True if a line of `text` may be longer than `limit`, csv.reader's cap on a
    cell, past which it refuses the body.

    Such a line, at least twice `block` long, covers a whole block of the text
    that starts at a multiple of `block`, and that block holds no line break: so
    only those blocks are looked at. A line of between `block` and `limit`
    characters may also make it say True: that body then takes the csv path,
    which decides."""
    block = max(limit // 2, 1)
    return any(
        text.find("\n", start, start + block) < 0
        for start in range(0, len(text) - block + 1, block)
    )
