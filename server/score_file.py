"""python -m server.score_file INPUT.csv OUTPUT.csv: score a CSV file of any size.

The same validation and the same ONNX model as POST /predictdata, streamed in
chunks so memory stays flat however long the file. By default the first bad
row stops the run (with its line number); with --rejects, bad rows go to a
separate file with the reason and the rest are scored. --interval 90 and
--explain add the columns POST /predictdata?interval=90&explain=true adds.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
from tqdm import tqdm

from model_store.store import ModelStore, StoreError
from server.config import load_settings
from server.csv_input import CsvLayout, CsvParser
from server.csv_output import answer_columns, write_answer_rows, write_scored_rows
from server.errors import RequestRejected
from server.model import ServedModel, load_verified_model

DEFAULT_CHUNK_ROWS = 10_000


class ScoringStopped(Exception):
    pass


def read_chunks(reader, chunk_rows: int) -> Iterator[list[tuple[int, list[str]]]]:
    """(line number, cells) in lists of up to `chunk_rows`; blank lines skipped."""
    chunk: list[tuple[int, list[str]]] = []
    for record in reader:
        if record:
            chunk.append((reader.line_num, record))
            if len(chunk) == chunk_rows:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def score_file(
    model: ServedModel,
    source: Path,
    destination: Path,
    rejects: Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool = True,
    options: msgspec.Struct | None = None,
) -> tuple[int, int]:
    """Scores `source` into `destination`; returns (rows scored, problems rejected).

    `options` (of the contract's QueryOptions type) adds the interval and
    contribution columns, as the same options of POST /predictdata do."""
    parser = CsvParser(model.contract, max_rows=chunk_rows)
    scored = rejected = 0
    partial = destination.with_name(destination.name + ".partial")
    with (
        open(source, newline="", encoding="utf-8-sig") as infile,
        open(partial, "w", newline="", encoding="utf-8") as outfile,
        open(rejects or os.devnull, "w", newline="", encoding="utf-8") as rejfile,
        tqdm(total=source.stat().st_size, unit="B", unit_scale=True, disable=not progress) as bar,
    ):
        reader = csv.reader(_counting(infile, bar), strict=True)
        try:
            header = next(reader, None)
            if not header:
                raise ScoringStopped(f"{source}: empty file; expected a header line")
            layout = parser.layout(header)
            out = csv.writer(outfile, lineterminator="\n")
            names = ["math_score"]
            if options is not None:
                empty = {name: [] for name in model.contract.model.feature_names}
                names = [name for name, _ in answer_columns(model.predict(empty, options))]
            out.writerow(["id", *names] if layout.has_ids else names)
            rej = csv.writer(rejfile, lineterminator="\n")
            rej.writerow(["line", "field", "message", *header])
            for chunk in read_chunks(reader, chunk_rows):
                batch, bad = _validate(parser, layout, chunk, rejects is None, source)
                for line, field, message, record in bad:
                    rej.writerow([line, field or "", message, *record])
                rejected += len(bad)
                if batch.size and options is not None:
                    columns = answer_columns(model.predict(batch.columns, options))
                    write_answer_rows(outfile, batch.ids, [values for _, values in columns])
                    scored += batch.size
                elif batch.size:
                    scores = model.scores(batch.columns)
                    if batch.ids:
                        write_scored_rows(outfile, batch.ids, scores)
                    else:
                        out.writerows([s] for s in scores)
                    scored += batch.size
        except csv.Error as exc:
            raise ScoringStopped(
                f"{source}, line {reader.line_num}: malformed CSV: {exc}"
            ) from None
        finally:
            outfile.close()
            if sys.exc_info()[0] is not None:
                os.unlink(partial)
    os.replace(partial, destination)  # no half-written output under the final name
    return scored, rejected


def _counting(lines: Iterator[str], bar: tqdm) -> Iterator[str]:
    for line in lines:
        bar.update(len(line))
        yield line


def _validate(parser: CsvParser, layout: CsvLayout, chunk, stop_on_error: bool, source: Path):
    """The chunk's good records as a Batch, and its (line, field, message, record) rejects."""
    try:
        return parser.batch([record for _, record in chunk], layout), []
    except RequestRejected:
        pass
    good, bad = [], []
    for line, record in chunk:  # a bad chunk: find its bad rows one by one
        try:
            parser.batch([record], layout)
            good.append(record)
        except RequestRejected as exc:
            if stop_on_error:
                first = exc.details[0] if exc.details else None
                where = f"column {first.field}: {first.message}" if first else exc.message
                raise ScoringStopped(f"{source}, line {line}, {where}") from None
            for problem in exc.details or [None]:
                field = problem.field if problem else None
                bad.append((line, field, problem.message if problem else exc.message, record))
    return parser.batch(good, layout), bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.score_file", description=__doc__)
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--rejects", type=Path, help="write bad rows here instead of stopping")
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS)
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
        options = model.contract.options.parse(asked) if asked else None
        scored, rejected = score_file(
            model, args.input, args.output, args.rejects, args.chunk_rows, not args.quiet, options
        )
    except (StoreError, ScoringStopped, RequestRejected, OSError, UnicodeDecodeError) as exc:
        message = exc.message if isinstance(exc, RequestRejected) else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(f"scored {scored} rows into {args.output} with model {model.version}", file=sys.stderr)
    if rejected:
        print(f"rejected {rejected} problem(s), written to {args.rejects}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
