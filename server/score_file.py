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
import multiprocessing
import os
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Before numpy is imported: its BLAS, unused here, would start a thread per core
# that spins through the start-up (CPU taken from the scoring, with nothing gained).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import msgspec

from model_store.store import ModelStore, StoreError
from server.config import load_settings
from server.csv_input import CsvParser
from server.csv_text import BOM, UTF8, WINDOWS_1252, CsvDialect, decode_chunk, file_encoding
from server.errors import RequestRejected
from server.file_chunks import (
    ChunkAnswer,
    ChunkScorer,
    FileHeader,
    ScoringStopped,
    line_breaks,
    read_chunks,
    rows_in,
)
from server.memory import keep_freed_memory
from server.model import ServedModel, load_verified_model

DEFAULT_CHUNK_BYTES = 1 << 20  # about 15,000 rows of the public data set's width
ENCODING_NAMES = {UTF8: "UTF-8", WINDOWS_1252: "Windows-1252"}

__all__ = ["FileRead", "ScoringStopped", "main", "score_file"]


@dataclass(frozen=True)
class FileRead:
    """What score_file made of a file, besides its scores."""

    scored: int
    rejected: int  # rows
    encoding: str
    dialect: CsvDialect


def score_file(
    model: ServedModel,
    source: Path,
    destination: Path,
    rejects: Path | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: bool = True,
    options: msgspec.Struct | None = None,
    echo: bool = True,
    jobs: int = 1,
    load_model: Callable[[], ServedModel] | None = None,
) -> FileRead:
    """Scores `source` into `destination` (and its bad rows into `rejects`, if
    given, rather than stopping). `options` (the contract's PredictionOptions)
    adds the interval and contribution columns, as on POST /predictdata. With
    `jobs` > 1, chunks are scored by that many worker processes, each with the
    model `load_model` loads (its own onnxruntime session)."""
    partial = destination.with_name(destination.name + ".partial")
    rejects_partial = rejects.with_name(rejects.name + ".partial") if rejects else None
    try:
        with open(source, "rb") as infile:
            encoding, bom = file_encoding(infile)
            infile.seek(0)
            chunks = read_chunks(infile, chunk_bytes)
            first = next(chunks, b"")
            header, body = _header(model, first, encoding, source)
            scorer = ChunkScorer(model, header, options, echo, rejects is None, str(source))
            settings = (header, options, echo, rejects is None)
            with (
                open(partial, "wb") as outfile,
                open(rejects_partial or os.devnull, "w", newline="", encoding="utf-8") as rejfile,
                _Scorers(scorer, jobs, load_model, settings, infile, partial.parent) as run,
                _progress_bar(source.stat().st_size, progress) as bar,
            ):
                mark = BOM if bom or encoding != UTF8 else ""  # for the spreadsheet to read it back
                out_head, rejects_head = scorer.head()
                outfile.write(((mark if echo else "") + out_head).encode())
                rejfile.write(mark + rejects_head)
                bar.update(len(first) - len(body))
                scored = rejected = 0
                tasks = _tasks(len(first) - len(body), body, chunks, encoding, header, source)
                for out, answer, size in run.answers(tasks):
                    outfile.write(out)
                    rejfile.write(answer.rejects)
                    scored += answer.scored
                    rejected += answer.rejected
                    bar.update(size)
    except BaseException:
        for path in (partial, rejects_partial):
            if path is not None and path.exists():
                os.unlink(path)
        raise
    os.replace(partial, destination)  # no half-written output under the final name
    if rejects_partial is not None:
        os.replace(rejects_partial, rejects)
    return FileRead(scored, rejected, encoding, header.dialect)


class _NoProgressBar:
    def __enter__(self) -> _NoProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, done: int) -> None:
        return None


def _progress_bar(total_bytes: int, shown: bool):
    """tqdm's bar with its ETA on stderr, or none (--quiet): tqdm is imported only to
    be shown, since importing it is a tenth of a scripted run's start-up."""
    if not shown:
        return _NoProgressBar()
    from tqdm import tqdm

    return tqdm(total=total_bytes, unit="B", unit_scale=True)


def _header(model: ServedModel, first: bytes, encoding: str, source: Path):
    """The file's header, and the rest of its first chunk."""
    end = first.find(b"\n")
    line_bytes, body = (first, b"") if end < 0 else (first[: end + 1], first[end + 1 :])
    line = decode_chunk(line_bytes, encoding, True, 0).rstrip("\r\n")
    if not line.strip():
        raise ScoringStopped(f"{source}: empty first line; expected the header line")
    return FileHeader.read(CsvParser(model.contract, max_rows=0), line), body


def _tasks(
    offset: int, body: bytes, chunks: Iterator[bytes], encoding: str, header: FileHeader, source
) -> Iterator[_Task]:
    """Every chunk after the header (the first at `offset` in the file)."""
    rows = lines = 1  # the header
    for chunk in _with_first(body, chunks):
        breaks = line_breaks(chunk)
        try:
            count = rows_in(chunk, breaks, encoding, lines, header.dialect)
        except RequestRejected as exc:
            raise ScoringStopped(f"{source}: {exc.message}") from None
        yield _Task(offset, chunk, encoding, rows, lines, count)
        offset += len(chunk)
        rows += count
        lines += breaks


def _with_first(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


@dataclass(frozen=True)
class _Task:
    offset: int  # of the chunk in the file
    chunk: bytes
    encoding: str
    rows_before: int
    lines_before: int
    rows: int  # rows_in


class _Scorers:
    """Where chunks are scored: here, or in `jobs` worker processes (forked, each
    loading its own model) with at most two chunks each in flight, so that
    memory stays flat; answers come back in file order.

    A worker reads its chunk from the file itself and writes the chunk's output
    to a slot, a temporary file of this run's (one per chunk in flight), rather
    than both passing through a pipe: the pickling and the pipe's many small
    copies were a tenth of the time."""

    def __init__(
        self, scorer: ChunkScorer, jobs: int, load_model, settings: tuple, source, folder: Path
    ) -> None:
        self._scorer = scorer
        self._jobs = jobs if load_model is not None else 1
        self._pool = None
        self._slots: list = []
        if self._jobs > 1:
            self._slots = [tempfile.TemporaryFile(dir=folder) for _ in range(2 * self._jobs)]
            context = multiprocessing.get_context("fork")
            fds = (source.fileno(), [slot.fileno() for slot in self._slots])
            self._pool = context.Pool(
                self._jobs, initializer=_start_worker, initargs=(load_model, scorer, settings, fds)
            )

    def __enter__(self) -> _Scorers:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.terminate() if exc[0] else self._pool.close()
            self._pool.join()
        for slot in self._slots:
            slot.close()

    def answers(self, tasks: Iterator[_Task]) -> Iterator[tuple[bytes, ChunkAnswer, int]]:
        """(the output's bytes, the answer, the chunk's size) for every task, in order."""
        if self._pool is None:
            for task in tasks:
                answer = self._scorer.score(
                    task.chunk, task.encoding, task.rows_before, task.lines_before, task.rows
                )
                yield answer.out, answer, len(task.chunk)
            return
        pending: deque = deque()
        for number, task in enumerate(tasks):
            # A slot is reused only once its chunk's output has been read back.
            slot = number % len(self._slots)
            work = (task.offset, len(task.chunk), task.encoding, task.rows_before)
            work += (task.lines_before, task.rows, slot)
            result = self._pool.apply_async(_score_in_worker, work)
            pending.append((result, slot, len(task.chunk)))
            if len(pending) >= len(self._slots):
                yield self._collect(*pending.popleft())
        while pending:
            yield self._collect(*pending.popleft())

    def _collect(self, result, slot: int, size: int) -> tuple[bytes, ChunkAnswer, int]:
        answer, length = result.get()
        return os.pread(self._slots[slot].fileno(), length, 0), answer, size


_worker_scorer: ChunkScorer | None = None
_worker_files: tuple[int, list[int]] = (-1, [])  # the source's and the slots' descriptors


def _start_worker(load_model, scorer: ChunkScorer, settings: tuple, fds: tuple) -> None:
    """A worker's own model and scorer, and the run's files (inherited through
    fork, not pickled)."""
    global _worker_scorer, _worker_files
    header, options, echo, stop = settings
    _worker_scorer = ChunkScorer(load_model(), header, options, echo, stop, scorer.source)
    _worker_files = fds


def _score_in_worker(
    offset: int, size: int, encoding: str, rows_before: int, lines_before: int, rows: int,
    slot: int,
) -> tuple[ChunkAnswer, int]:  # fmt: skip
    """The chunk's answer, its output written to the slot instead (and its length)."""
    source, slots = _worker_files
    chunk = os.pread(source, size, offset)
    answer = _worker_scorer.score(chunk, encoding, rows_before, lines_before, rows)
    out = answer.out
    written = 0
    while written < len(out):
        written += os.pwrite(slots[slot], memoryview(out)[written:], written)
    return ChunkAnswer(b"", answer.rejects, answer.scored, answer.rejected), len(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.score_file", description=__doc__)
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path, nargs="?", help="the scored file (or -o)")
    parser.add_argument("-o", "--output", type=Path, dest="output_option", metavar="OUTPUT")
    parser.add_argument("--rejects", type=Path, help="write bad rows here instead of stopping")
    parser.add_argument(
        "--scores-only", action="store_true", help="write the id (if any) and the scores only"
    )
    parser.add_argument("--chunk-bytes", type=int, default=DEFAULT_CHUNK_BYTES)
    parser.add_argument(
        "--jobs", type=int, default=len(os.sched_getaffinity(0)),
        help="worker processes scoring chunks (default: this machine's usable cores)",
    )  # fmt: skip
    parser.add_argument("--version", help="model version (default: the store's current one)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--interval", metavar="LEVEL", help="add the range at this level (GET /model lists them)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="add each field's points and the baseline"
    )
    args = parser.parse_args(argv)
    if (args.output is None) == (args.output_option is None):
        parser.error("name the scored file once: as the second argument or with -o")
    args.output = args.output or args.output_option
    settings = load_settings()
    keep_freed_memory()  # a chunk's temporaries reused by the next (server/memory.py)
    try:
        store = ModelStore(settings.store_dir)
        model = load_verified_model(store, args.version, settings.ort_threads)
        asked = {"interval": args.interval, "explain": "true" if args.explain else None}
        asked = {k: v for k, v in asked.items() if v is not None}
        options = model.contract.options.parse(asked) if asked else None
        read = score_file(
            model, args.input, args.output, args.rejects, args.chunk_bytes, not args.quiet,
            options, echo=not args.scores_only, jobs=max(args.jobs, 1),
            load_model=lambda: load_verified_model(store, model.version, settings.ort_threads),
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
