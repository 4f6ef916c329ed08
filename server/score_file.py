"""python -m server.score_file INPUT.csv OUTPUT.csv: score a CSV file of any size.

The same reading (encoding, separator, decimal comma), validation and ONNX
model as POST /predictdata, in chunks through the same fast path: memory stays
flat however long the file. The output is the input's own rows, every column in
order, with math_score after them (as ?echo=all), in the input's separator;
--scores-only writes the id (or, with no id column, the spreadsheet row) and
the scores instead. The first bad row
stops the run, naming its spreadsheet row (the header is row 1); with --rejects,
bad rows go to a separate file (row, field, message, then the row as read) and
stay in the output with an empty score, so that it lines up with the input.
--interval 90 and --explain add the columns POST /predictdata?interval=90&explain=true adds.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import msgspec
from tqdm import tqdm

from model_store.store import ModelStore, StoreError
from server.batch import Batch
from server.config import load_settings
from server.csv_fast import FastCsvReader
from server.csv_input import CsvLayout, CsvParser, render_record
from server.csv_output import answer_columns, joinable, joined_rows
from server.csv_text import (
    BOM,
    COMMA,
    UTF8,
    WINDOWS_1252,
    CsvDialect,
    decode_chunk,
    file_encoding,
    header_cells,
)
from server.errors import FieldError, RequestRejected
from server.model import Scored, ServedModel, load_verified_model
from server.rules import ID_FIELD

DEFAULT_CHUNK_BYTES = 1 << 20  # about 15,000 rows of the public data set's width
ENCODING_NAMES = {UTF8: "UTF-8", WINDOWS_1252: "Windows-1252"}


class ScoringStopped(Exception):
    pass


@dataclass(frozen=True)
class FileRead:
    """What score_file made of a file, besides its scores."""

    scored: int
    rejected: int  # rows
    encoding: str
    dialect: CsvDialect


def read_chunks(stream: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    """The file in pieces of about `chunk_bytes`, each ending at a line end that
    is outside quotes (an even number of quote characters before it)."""
    rest = b""
    while block := stream.read(chunk_bytes):
        data = rest + block
        end = data.rfind(b"\n")
        while end >= 0 and data.count(b'"', 0, end) % 2:
            end = data.rfind(b"\n", 0, end)
        rest = data[end + 1 :]
        if end >= 0:
            yield data[: end + 1]
    if rest:
        yield rest


def score_file(
    model: ServedModel,
    source: Path,
    destination: Path,
    rejects: Path | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: bool = True,
    options: msgspec.Struct | None = None,
    echo: bool = True,
) -> FileRead:
    """Scores `source` into `destination` (and its bad rows into `rejects`, if
    given, rather than stopping). `options` (the contract's PredictionOptions)
    adds the interval and contribution columns, as on POST /predictdata."""
    partial = destination.with_name(destination.name + ".partial")
    rejects_partial = rejects.with_name(rejects.name + ".partial") if rejects else None
    try:
        with open(source, "rb") as infile:
            encoding, bom = file_encoding(infile)
            infile.seek(0)
            with (
                open(partial, "w", newline="", encoding="utf-8") as outfile,
                open(rejects_partial or os.devnull, "w", newline="", encoding="utf-8") as rejfile,
                tqdm(
                    total=source.stat().st_size, unit="B", unit_scale=True, disable=not progress
                ) as bar,
            ):
                writer = _Writer(model, options, echo, outfile, rejfile, bom or encoding != UTF8)
                scorer = _ChunkScorer(model, writer, stop_on_error=rejects is None)
                for chunk in read_chunks(infile, chunk_bytes):
                    scorer.take(decode_chunk(chunk, encoding, scorer.first, scorer.lines), source)
                    bar.update(len(chunk))
                scorer.finish(source)
    except BaseException:
        for path in (partial, rejects_partial):
            if path is not None and path.exists():
                os.unlink(path)
        raise
    os.replace(partial, destination)  # no half-written output under the final name
    if rejects_partial is not None:
        os.replace(rejects_partial, rejects)
    return FileRead(writer.scored, writer.rejected, encoding, scorer.dialect or COMMA)


class _ChunkScorer:
    """Reads the header from the first chunk, then each chunk's rows: the fast
    path first, the csv module path (row by row problems) when it defers."""

    def __init__(self, model: ServedModel, writer: _Writer, stop_on_error: bool) -> None:
        self._parser = CsvParser(model.contract, max_rows=sys.maxsize)
        self._fast = FastCsvReader(self._parser)
        self._writer = writer
        self._stop = stop_on_error
        self.first = True
        self.lines = 0  # physical lines before the chunk
        self.rows = 1  # spreadsheet rows before the chunk (the header is row 1)
        self.dialect: CsvDialect | None = None
        self._layout: CsvLayout | None = None
        self._fast_header: str | None = None

    def take(self, text: str, source: Path) -> None:
        """One chunk's text (the first holds the header line)."""
        if self.first:
            self.first = False
            text = self._read_header(text, source)
        self._rows_of(text, source)

    def finish(self, source: Path) -> None:
        if self._layout is None:
            raise ScoringStopped(f"{source}: empty file; expected a header line")

    def _read_header(self, text: str, source: Path) -> str:
        end = text.find("\n")
        header_line = (text if end < 0 else text[:end]).removesuffix("\r")
        if not header_line.strip():
            raise ScoringStopped(f"{source}: empty first line; expected the header line")
        self.dialect = self._parser.dialect(header_line)
        cells = header_cells(header_line, self.dialect)
        self._layout = self._parser.layout(cells, self.dialect)
        if not any(c in cell for cell in cells for c in f'"\r\n{self.dialect.delimiter}'):
            self._fast_header = self.dialect.delimiter.join(cells)
        self._writer.start(cells, self.dialect, self._layout)
        self.lines = 1
        return "" if end < 0 else text[end + 1 :]

    def _rows_of(self, text: str, source: Path) -> None:
        if not text:
            return
        if "\r" in text and '"' not in text:
            text = text.replace("\r\n", "\n")  # once, for the fast path and the lines alike
        batch = None
        if self._fast_header is not None:
            batch = self._fast.read(self._fast_header + "\n" + text)
        if batch is not None:
            lines = text.split("\n")
            if not lines[-1]:
                lines.pop()
            if self._writer.numbered:
                rows = [row for row, line in enumerate(lines, self.rows + 1) if line]
                self._writer.write(batch, None, rows)
            else:
                self._writer.write(batch, [line for line in lines if line], None)
            self.rows += len(lines)
        else:
            self._slow(text, source)
        self.lines += text.count("\n")

    def _slow(self, text: str, source: Path) -> None:
        """The chunk through the csv module: every problem found, row by row."""
        layout = self._layout
        try:
            records = self._parser.records(text, layout.dialect, self.lines + 1)
        except RequestRejected as exc:
            raise ScoringStopped(f"{source}: {exc.message}") from None
        rows = [row for row, r in enumerate(records, self.rows + 1) if r]
        self.rows += len(records)  # blank ones too: each is a row of the spreadsheet
        records = [r for r in records if r]
        problems = self._parser.problems(records, layout, rows)
        if problems and self._stop:
            raise ScoringStopped(f"{source}, {_where(problems[0])}") from None
        bad = {p.row for p in problems}
        good = [(row, r) for row, r in zip(rows, records, strict=True) if row not in bad]
        batch = self._parser.batch([r for _, r in good], layout, [row for row, _ in good])
        self._writer.write_with_rejects(batch, records, rows, problems)


def _where(problem: FieldError) -> str:
    if problem.field is None:
        return f"row {problem.row}: {problem.message}"
    return f"row {problem.row}, column {problem.field}: {problem.message}"


class _Writer:
    """The output (and rejects) files: the answer's columns after each row's
    prefix (the row as read, or its id)."""

    def __init__(self, model, options, echo: bool, outfile, rejfile, bom: bool) -> None:
        self._model = model
        self._options = options
        self.echo = echo
        self._out = outfile
        self._rej = rejfile
        self._bom = bom
        self.scored = 0
        self.rejected = 0

    def start(self, header: list[str], dialect: CsvDialect, layout: CsvLayout) -> None:
        self._dialect = dialect if self.echo else COMMA
        self._id_position = layout.positions[ID_FIELD] if layout.has_ids else None
        names = ["math_score"]
        if self._options is not None:
            empty = {name: [] for name in self._model.contract.model.feature_names}
            names = [name for name, _ in answer_columns(self._model.predict(empty, self._options))]
        self._width = len(names)
        if self.echo:
            head = [render_record(header, dialect)]
        else:
            head = ["id"] if layout.has_ids else ["row"]
        prefix = BOM if self.echo and self._bom else ""
        delimiter = self._dialect.delimiter
        self._out.write(prefix + delimiter.join([*head, *names]) + "\n")
        rejects_head = render_record(["row", "field", "message", *header], dialect)
        self._rej.write((BOM if self._bom else "") + rejects_head + "\n")
        self._input_dialect = dialect

    @property
    def numbered(self) -> bool:
        """Rows are told apart by their row number: no echo, no id column."""
        return not self.echo and self._id_position is None

    def write(self, batch: Batch, lines: list[str] | None, rows: list[int] | None) -> None:
        """A chunk whose rows are all valid: its lines as read, or its row numbers."""
        columns = self._columns(batch)
        prefixes = self._prefixes(batch.ids, lines, rows)
        self._out.write(joined_rows(prefixes, columns, self._delimiter))
        self.scored += batch.size

    def write_with_rejects(
        self, batch: Batch, records: list[list[str]], rows: list[int], problems: list[FieldError]
    ) -> None:
        """A chunk with bad rows: they keep their place in the output, with no score."""
        bad = {p.row for p in problems}
        good_at = [i for i, row in enumerate(rows) if row not in bad]
        filled = [[""] * len(rows) for _ in range(self._width)]
        for full, values in zip(filled, self._columns(batch), strict=True):
            for i, value in zip(good_at, values, strict=True):
                full[i] = value
        lines = [render_record(r, self._input_dialect) for r in records]
        ids = None
        if self._id_position is not None:
            ids = [r[self._id_position] if self._id_position < len(r) else "" for r in records]
        prefixes = self._prefixes(ids, lines, rows)
        self._out.write(joined_rows(prefixes, filled, self._delimiter))
        line_of = dict(zip(rows, lines, strict=True))
        delimiter = self._input_dialect.delimiter
        for p in problems:
            prefix = render_record([str(p.row), p.field or "", p.message], self._input_dialect)
            self._rej.write(prefix + delimiter + line_of[p.row] + "\n")
        self.scored += batch.size
        self.rejected += len(bad)

    @property
    def _delimiter(self) -> str:
        return self._dialect.delimiter

    def _prefixes(self, ids: list | None, lines: list[str] | None, rows) -> list[str]:
        if self.echo:
            return lines
        if ids is None:
            return list(map(str, rows))
        if joinable(ids):
            return ids
        return [render_record([i], COMMA) for i in ids]

    def _columns(self, batch: Batch) -> list[list[str]]:
        comma = self._dialect.decimal_comma
        if not batch.size:
            return [[] for _ in range(self._width)]
        if self._options is None:
            scored = Scored(self._model.scores(batch.columns))
        else:
            scored = self._model.predict(batch.columns, self._options)
        return [values for _, values in answer_columns(scored, comma)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.score_file", description=__doc__)
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--rejects", type=Path, help="write bad rows here instead of stopping")
    parser.add_argument(
        "--scores-only", action="store_true", help="write the id (if any) and the scores only"
    )
    parser.add_argument("--chunk-bytes", type=int, default=DEFAULT_CHUNK_BYTES)
    parser.add_argument("--version", help="model version (default: the store's current one)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--interval", metavar="LEVEL", help="add the range at this level (GET /model lists them)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="add each field's points and the baseline"
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    try:
        model = load_verified_model(
            ModelStore(settings.store_dir), args.version, settings.ort_threads
        )
        asked = {"interval": args.interval, "explain": "true" if args.explain else None}
        asked = {k: v for k, v in asked.items() if v is not None}
        options = model.contract.parse_options(asked) if asked else None
        read = score_file(
            model, args.input, args.output, args.rejects, args.chunk_bytes, not args.quiet,
            options, echo=not args.scores_only,
        )  # fmt: skip
    except (StoreError, ScoringStopped, RequestRejected, OSError) as exc:
        message = exc.message if isinstance(exc, RequestRejected) else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(
        f"read {args.input} as {ENCODING_NAMES[read.encoding]}, separated by "
        f"{read.dialect.separator_name}",
        file=sys.stderr,
    )
    print(
        f"scored {read.scored} rows into {args.output} with model {model.version}", file=sys.stderr
    )
    if read.rejected:
        print(f"rejected {read.rejected} row(s), written to {args.rejects}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
