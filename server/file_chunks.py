"""One chunk of a CSV file scored to text: what score_file does per chunk, in
its own process or in a worker.

A chunk is cut at a line end outside quotes (`read_chunks`); it is read by the
fast path (server/csv_fast.py) behind the file's header line, or, when that
defers, by the csv module path with every problem found row by row. Its answer
is the output's text and the rejects' text for those rows.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import msgspec
import numpy as np

from server.batch import Batch
from server.csv_fast import FastCsvReader
from server.csv_input import CsvLayout, CsvParser, render_record
from server.csv_output import answer_columns, hundredths_cells, joinable, joined_rows
from server.csv_text import COMMA, UTF8, CsvDialect, decode_chunk, header_cells
from server.errors import FieldError, RequestRejected
from server.model import ServedModel
from server.rules import ID_FIELD

_LONE_CR = re.compile(rb"\r(?!\n)")  # a record's end to csv.reader, as a line break is


class ScoringStopped(Exception):
    pass


def read_chunks(stream: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    """The file in pieces of about `chunk_bytes`, each ending at a line end that
    is outside quotes (an even number of quote characters before it)."""
    rest = b""
    while block := stream.read(chunk_bytes):
        data = rest + block
        end = data.rfind(b"\n")
        quoted = b'"' in data
        while quoted and end >= 0 and data.count(b'"', 0, end) % 2:
            end = data.rfind(b"\n", 0, end)
        rest = data[end + 1 :]
        if end >= 0:
            yield data[: end + 1]
    if rest:
        yield rest


@dataclass(frozen=True)
class FileHeader:
    """What the header line says, for every chunk of the file."""

    cells: list[str]
    layout: CsvLayout
    fast_header: str | None  # the header as the fast path reads it; None: always the csv path

    @property
    def dialect(self) -> CsvDialect:
        return self.layout.dialect

    @classmethod
    def read(cls, parser: CsvParser, line: str) -> FileHeader:
        """The header line's separator, cells and layout (InvalidRecords if unknown)."""
        dialect = parser.dialect(line)
        cells = header_cells(line, dialect)
        layout = parser.layout(cells, dialect)
        plain = not any(c in cell for cell in cells for c in f'"\r\n{dialect.delimiter}')
        return cls(cells, layout, dialect.delimiter.join(cells) if plain else None)


def line_breaks(chunk: bytes) -> int:
    """How many b"\\n" `chunk` holds: numpy counts them several times faster than
    bytes.count."""
    return int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) == ord("\n")))


def rows_in(
    chunk: bytes, breaks: int, encoding: str, lines_before: int, dialect: CsvDialect
) -> int:
    """The spreadsheet rows a chunk of `breaks` line breaks holds, blank ones too
    (records, not lines): counted in the bytes unless quotes or a lone CR make
    them differ."""
    if b'"' not in chunk and not (b"\r" in chunk and _LONE_CR.search(chunk)):
        return breaks + (not chunk.endswith(b"\n"))
    text = decode_chunk(chunk, encoding, False, lines_before)
    return len(CsvParser.records(text, dialect, lines_before + 1))


@dataclass(frozen=True)
class ChunkAnswer:
    out: bytes  # UTF-8
    rejects: str
    scored: int
    rejected: int  # rows


class ChunkScorer:
    """Scores chunks after `header`, as text of the output and the rejects file:
    the row as read (echo) or its id (or, with no id column, its row number),
    then the answer's columns. A bad row stops the run, or, when not
    `stop_on_error`, keeps its place with no score and goes to the rejects."""

    def __init__(
        self,
        model: ServedModel,
        header: FileHeader,
        options: msgspec.Struct | None,
        echo: bool,
        stop_on_error: bool,
        source: str,
    ) -> None:
        self._model = model
        self._parser = CsvParser(model.contract, max_rows=sys.maxsize)
        self._fast = FastCsvReader(self._parser)
        self._header = header
        self._options = options
        self._echo = echo
        self._stop = stop_on_error
        self.source = source
        self._out_dialect = header.dialect if echo else COMMA
        layout = header.layout
        self._id_position = layout.positions[ID_FIELD] if layout.has_ids else None
        self._numbered = not echo and self._id_position is None

    def answer_names(self) -> list[str]:
        """The answer's column names (math_score, then what `options` adds)."""
        if self._options is None:
            return ["math_score"]
        empty = {name: [] for name in self._model.contract.model.feature_names}
        return [name for name, _ in answer_columns(self._model.predict(empty, self._options))]

    def head(self) -> tuple[str, str]:
        """The output's and the rejects' header lines."""
        dialect = self._header.dialect
        before = [render_record(self._header.cells, dialect)] if self._echo else []
        if not self._echo:
            before = ["id"] if self._id_position is not None else ["row"]
        out = self._out_dialect.delimiter.join([*before, *self.answer_names()])
        rejects = render_record(["row", "field", "message", *self._header.cells], dialect)
        return out + "\n", rejects + "\n"

    def score(
        self, chunk: bytes, encoding: str, rows_before: int, lines_before: int, rows: int
    ) -> ChunkAnswer:
        """A chunk's answer; its first row is `rows_before + 1` of the spreadsheet,
        and it holds `rows` (rows_in: blank ones too)."""
        if b"\r" in chunk and b'"' not in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")  # once, for the fast path and the lines alike
        try:
            text = decode_chunk(chunk, encoding, False, lines_before)
        except RequestRejected as exc:
            raise ScoringStopped(f"{self.source}: {exc.message}") from None
        if not text:
            return ChunkAnswer(b"", "", 0, 0)
        batch = None
        if self._header.fast_header is not None:
            batch = self._fast.read(self._header.fast_header + "\n" + text)
        if batch is None:
            return self._score_slowly(text, rows_before, lines_before)
        blanks = batch.size != rows  # the fast path read every line that is not blank
        if self._options is None and not blanks:
            if self._echo and encoding == UTF8:
                return ChunkAnswer(self._echoed(chunk, batch), "", batch.size, 0)
            if self._numbered:
                out = self._numbered_scores(rows_before + 1, batch)
                return ChunkAnswer(out, "", batch.size, 0)
        lines = numbers = None
        if self._echo or (self._numbered and blanks):
            lines = text.split("\n")
            if not lines[-1]:
                lines.pop()
        if self._numbered:
            first = rows_before + 1
            numbers = range(first, first + batch.size)
            if blanks:
                numbers = [row for row, line in enumerate(lines, first) if line]
        if self._echo and blanks:
            lines = [line for line in lines if line]  # blank rows are not answered
        columns = self._columns(batch)
        prefixes = self._prefixes(batch.ids, lines, numbers)
        out = joined_rows(prefixes, columns, self._out_dialect.delimiter)
        return ChunkAnswer(out.encode(), "", batch.size, 0)

    def _echoed(self, chunk: bytes, batch: Batch) -> bytes:
        """The chunk's lines (UTF-8, LF, none blank, all read by the fast path), each
        followed by its score: one bytes formatting, about twice as fast as
        splitting the lines and joining them again."""
        cells = self._score_cells(batch)
        lines = chunk if chunk.endswith(b"\n") else chunk + b"\n"
        # TypeError, not a misaligned file, if the counts of lines and scores differed.
        return lines.replace(b"%", b"%%").replace(b"\n", b"%s\n") % tuple(cells)

    def _numbered_scores(self, first: int, batch: Batch) -> bytes:
        """Each row's number (from `first`, none blank) and score: one bytes
        formatting, faster than joining the numbers' and the scores' texts."""
        parts: list = [None] * (2 * batch.size)
        parts[0::2] = range(first, first + batch.size)
        parts[1::2] = self._score_cells(batch)
        return (b"%d%s\n" * batch.size) % tuple(parts)

    def _score_cells(self, batch: Batch) -> list[bytes]:
        """Each score's text after the output's separator, as UTF-8."""
        dialect = self._out_dialect
        scores = self._model.scores(batch.columns)
        return hundredths_cells(scores, dialect.decimal_comma, dialect.delimiter)

    def _score_slowly(self, text: str, rows_before: int, lines_before: int) -> ChunkAnswer:
        """The chunk through the csv module: every problem found, row by row."""
        layout = self._header.layout
        try:
            records = self._parser.records(text, layout.dialect, lines_before + 1)
        except RequestRejected as exc:
            raise ScoringStopped(f"{self.source}: {exc.message}") from None
        rows = [row for row, r in enumerate(records, rows_before + 1) if r]
        records = [r for r in records if r]
        problems = self._parser.problems(records, layout, rows)
        if problems and self._stop:
            raise ScoringStopped(f"{self.source}, {_where(problems[0])}")
        bad = {p.row for p in problems}
        good_at = [i for i, row in enumerate(rows) if row not in bad]
        batch = self._parser.batch(
            [records[i] for i in good_at], layout, [rows[i] for i in good_at]
        )
        filled = [[""] * len(rows) for _ in range(len(self.answer_names()))]
        for full, values in zip(filled, self._columns(batch), strict=True):
            for i, value in zip(good_at, values, strict=True):
                full[i] = value  # a bad row keeps its place, with no score
        dialect = layout.dialect
        lines = [render_record(r, dialect) for r in records]
        ids = None
        if self._id_position is not None:
            position = self._id_position
            ids = [r[position] if position < len(r) else "" for r in records]
        prefixes = self._prefixes(ids, lines, rows)
        out = joined_rows(prefixes, filled, self._out_dialect.delimiter).encode()
        line_of = dict(zip(rows, lines, strict=True))
        rejects = "".join(
            render_record([str(p.row), p.field or "", p.message], dialect)
            + dialect.delimiter
            + line_of[p.row]
            + "\n"
            for p in problems
        )
        return ChunkAnswer(out, rejects, batch.size, len(bad))

    def _prefixes(self, ids: list | None, lines: list[str] | None, rows) -> list[str]:
        if self._echo:
            return lines
        if self._numbered:
            return list(map(str, rows))
        return ids if joinable(ids) else [render_record([i], COMMA) for i in ids]

    def _columns(self, batch: Batch) -> list[list[str]]:
        if not batch.size:
            return [[] for _ in self.answer_names()]
        scored = self._model.predict(batch.columns, self._options)
        return [values for _, values in answer_columns(scored, self._out_dialect.decimal_comma)]


def _where(problem: FieldError) -> str:
    if problem.field is None:
        return f"row {problem.row}: {problem.message}"
    return f"row {problem.row}, column {problem.field}: {problem.message}"
