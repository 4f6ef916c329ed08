"""A CSV file's text as spreadsheets write it: its encoding and its separator.

UTF-8, with or without a byte-order mark, is read as such; a body that is not
valid UTF-8 is read as Windows-1252, what Excel's plain "CSV" writes on
Windows. The separator is whichever of comma, semicolon and tab splits the
header line into the most known columns; with a semicolon (Excel's list
separator where the decimal separator is a comma) scores may have a decimal comma.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import BinaryIO

from model_store.contract import normalise_column_name
from server.errors import InvalidRecords, MalformedBody

UTF8 = "utf-8"
WINDOWS_1252 = "windows-1252"
BOM = "\ufeff"
BOM_BYTES = BOM.encode()
SEPARATOR_NAMES = {",": "a comma", ";": "a semicolon", "\t": "a tab"}


@dataclass(frozen=True)
class CsvDialect:
    delimiter: str = ","

    @property
    def decimal_comma(self) -> bool:
        return self.delimiter == ";"

    @property
    def separator_name(self) -> str:
        return SEPARATOR_NAMES[self.delimiter]


COMMA = CsvDialect(",")


@dataclass(frozen=True)
class CsvText:
    text: str
    encoding: str  # UTF8 or WINDOWS_1252
    bom: bool  # the bytes began with a UTF-8 byte-order mark


def decode(body: bytes) -> CsvText:
    """The body's text: UTF-8 if it is valid UTF-8, else Windows-1252."""
    bom = body.startswith(BOM_BYTES)
    try:
        return CsvText(body.decode("utf-8-sig"), UTF8, bom)
    except UnicodeDecodeError as exc:
        if bom:
            raise MalformedBody(
                f"the CSV text starts as UTF-8 (a byte-order mark) but byte "
                f"0x{body[exc.start]:02x} on line {_line_of(body, exc.start)} is not UTF-8: "
                "save the file again as CSV UTF-8"
            ) from None
    try:
        return CsvText(body.decode("cp1252"), WINDOWS_1252, False)
    except UnicodeDecodeError as exc:
        raise MalformedBody(not_text_message(body[exc.start], _line_of(body, exc.start))) from None


def not_text_message(byte: int, line: int) -> str:
    return (
        f"the CSV file is neither UTF-8 nor Windows-1252 text (byte 0x{byte:02x} on line "
        f"{line}): save it from the spreadsheet as CSV UTF-8"
    )


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def file_encoding(stream: BinaryIO, block_bytes: int = 1 << 20) -> tuple[str, bool]:
    """How `decode` would read the whole file: (its encoding, whether it starts
    with a byte-order mark). Reads the stream to its end."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    bom = stream.read(len(BOM_BYTES)) == BOM_BYTES
    stream.seek(0)
    before = 0  # bytes before the block
    try:
        while block := stream.read(block_bytes):
            if not block.isascii() or decoder.getstate()[0]:
                decoder.decode(block)  # ASCII after a whole character is valid: not decoded
            before += len(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        if bom:
            stream.seek(0)
            lines = stream.read(before).count(b"\n")
            raise MalformedBody(
                f"the CSV file starts as UTF-8 (a byte-order mark) but line "
                f"{lines + _line_of(block, exc.start)} is not UTF-8: save the file again "
                "as CSV UTF-8"
            ) from None
        return WINDOWS_1252, False
    return UTF8, bom


def decode_chunk(chunk: bytes, encoding: str, first: bool, lines_before: int) -> str:
    """A piece of a file `file_encoding` has read, cut at a line end."""
    codec = "cp1252" if encoding == WINDOWS_1252 else "utf-8-sig" if first else "utf-8"
    try:
        return chunk.decode(codec)
    except UnicodeDecodeError as exc:
        line = lines_before + _line_of(chunk, exc.start)
        raise MalformedBody(not_text_message(chunk[exc.start], line)) from None


def first_line(text: str) -> str:
    """The text up to its first line break (csv.reader ends a line at CR too)."""
    end = len(text)
    for brk in "\n\r":
        found = text.find(brk, 0, end)
        if found >= 0:
            end = found
    return text[:end]


def header_cells(line: str, dialect: CsvDialect) -> list[str]:
    if '"' not in line:
        return line.split(dialect.delimiter)
    try:
        return next(csv.reader([line], delimiter=dialect.delimiter), [])
    except csv.Error:
        return line.split(dialect.delimiter)


def sniff(header_line: str, known: Collection[str], needed: Collection[str]) -> CsvDialect:
    """The dialect whose separator splits the header into the most `known`
    columns (ties: comma first); InvalidRecords naming the separator seen if none."""
    found = {}
    for delimiter in SEPARATOR_NAMES:
        dialect = CsvDialect(delimiter)
        names = {normalise_column_name(c) for c in header_cells(header_line, dialect)}
        found[dialect] = len(names & set(known))
    best = max(found, key=found.get)
    if found[best]:
        return best
    raise InvalidRecords(no_known_header_message(header_line, needed))


def no_known_header_message(header_line: str, needed: Collection[str]) -> str:
    punctuation = Counter(c for c in header_line if not c.isalnum() and c not in " _/'\"-")
    if punctuation:
        seen, _ = punctuation.most_common(1)[0]
        saw = f"it seems to be separated by {SEPARATOR_NAMES.get(seen, repr(seen))}"
    else:
        saw = "it holds no separator"
    shown = header_line if len(header_line) <= 80 else header_line[:77] + "..."
    return (
        f"the CSV header line {shown!r} names none of the columns this model needs ({saw}); "
        f"expected {', '.join(needed)} (and optionally id), separated by commas, semicolons "
        "or tabs"
    )
