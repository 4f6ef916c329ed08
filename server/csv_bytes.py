"""The CSV fast path's first reader: a large plain ASCII body read from its bytes.

Every separator and line break is found in one pass over the bytes, so each
cell's start and length is known at once; a category cell is then found by one
of its bytes and checked by comparing all of them (as 8-byte words), a score
cell of one to three digits (and up to two decimals) is read from its digits.
About twice as fast as np.loadtxt's tokenizer. Anything else (a row of another
width, a blank line, a decimal comma, a space, an exponent, non-ASCII text)
returns None, and np.loadtxt (server/csv_fast.py) reads the body instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from server.rules import ID_FIELD, FeatureRule

if TYPE_CHECKING:
    from server.csv_input import CsvLayout

_NEWLINE, _ZERO, _POINT = ord("\n"), ord("0"), ord(".")
_MAX_DIGITS = 3  # before the point
_MAX_DECIMAL_CELL = 6  # three digits, the point and two decimals


class ByteCategories:
    """A category field's values as 8-byte words, to check cells of a body in place."""

    def __init__(self, codes: dict[str, int]) -> None:
        values = sorted(codes)
        encoded = [v.encode() for v in values]
        self.key = distinguishing_position(encoded)
        self.word_count = words = -(-max(map(len, encoded)) // 8)
        table = np.array(encoded, dtype=f"S{8 * words}").view("<u8").reshape(len(values), words)
        self._lengths = np.array(list(map(len, encoded)), dtype=np.intp)
        # Per word of a value: its bytes, and the mask of those that are its own
        # (the word read from a cell runs on into the next cells).
        self._words = [np.ascontiguousarray(table[:, w]) for w in range(words)]
        kept = np.clip(self._lengths[:, None] - 8 * np.arange(words), 0, 8).astype(np.uint64)
        masks = np.where(kept == 8, np.uint64(2**64 - 1), (np.uint64(1) << kept * 8) - 1)
        self._masks = [np.ascontiguousarray(masks[:, w], dtype=np.uint64) for w in range(words)]
        self._place_of_byte = np.zeros(256, dtype=np.intp)
        if self.key is not None:
            keys = [e[self.key] for e in encoded]
            self._place_of_byte[keys] = np.arange(len(values))
        self._codes = np.array([codes[v] for v in values], dtype=np.intp)

    def codes(self, body: _Body, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
        """The codes of the cells at `starts`, or None if any is not exactly a value."""
        places = self._place_of_byte[body.bytes[starts + self.key]]
        if not (self._lengths[places] == lengths).all():
            return None
        for word, (values, masks) in enumerate(zip(self._words, self._masks, strict=True)):
            read = body.words[starts + 8 * word]
            if not ((read & masks[places]) == values[places]).all():
                return None
        return self._codes[places]


class ByteReader:
    """`read` a body whose every row has the header's width and plain cells."""

    def __init__(self, rules: Sequence[FeatureRule], category_codes: dict) -> None:
        self._rules = rules
        categories = {name: ByteCategories(codes) for name, codes in category_codes.items()}
        ascii_keyed = all(
            all(v.isascii() for v in codes) and categories[name].key is not None
            for name, codes in category_codes.items()
        )
        self._categories = categories if ascii_keyed else None
        # Zeros after the body, as far as a cell's last word may be read from its start.
        self._pad = 8 * max((c.word_count for c in categories.values()), default=1)

    def read(self, text: str, start: int, rows: int, layout: CsvLayout):
        """(columns, ids) of the `rows` lines of `text` after `start` (the header's
        end), as the fast path gives them, or None to leave them to np.loadtxt."""
        if self._categories is None or not text.isascii() or len(layout.dialect.delimiter) != 1:
            return None
        body = _Body(text, start, self._pad)
        width = layout.width
        ends = body.cell_ends(ord(layout.dialect.delimiter))
        if (
            len(ends) != rows * width
            or not (body.bytes[ends[width - 1 :: width]] == _NEWLINE).all()
        ):
            return None  # a row of another width, or a blank line
        starts = np.empty_like(ends)
        starts[0], starts[1:] = 0, ends[:-1] + 1
        lengths = ends - starts
        columns = {}
        for rule in self._rules:
            at = layout.positions[rule.name]
            cells = starts[at::width], lengths[at::width]
            categories = self._categories.get(rule.name)
            column = categories.codes(body, *cells) if categories else _scores(rule, body, *cells)
            if column is None:
                return None
            columns[rule.name] = column
        ids = None
        if layout.has_ids:
            at = layout.positions[ID_FIELD]
            first = (start + starts[at::width]).tolist()
            ends_at = (start + ends[at::width]).tolist()
            ids = [text[a:b] for a, b in zip(first, ends_at, strict=True)]
        return columns, ids


class _Body:
    """The bytes after the header, as bytes and as the 8-byte word at each of them."""

    def __init__(self, text: str, start: int, pad: int) -> None:
        line_end = b"" if text.endswith("\n") else b"\n"
        data = text.encode("ascii") + line_end + bytes(pad)
        size = len(data) - start
        self.bytes = np.frombuffer(data, dtype=np.uint8, count=size - pad, offset=start)
        self.words = np.ndarray((size - 7,), dtype="<u8", buffer=data, offset=start, strides=(1,))

    def cell_ends(self, delimiter: int) -> np.ndarray:
        """The position of every separator and line break, in order."""
        return np.flatnonzero((self.bytes == delimiter) | (self.bytes == _NEWLINE))


def _scores(rule: FeatureRule, body: _Body, starts: np.ndarray, lengths: np.ndarray):
    """The scores as float64 (whole numbers, else with up to two decimals), or None if
    any cell is another number (or none) or out of the rule's range."""
    scores = _whole_scores(body, starts, lengths)
    if scores is None:
        scores = _decimal_scores(body, starts, lengths)
    if scores is None or not ((scores >= rule.minimum) & (scores <= rule.maximum)).all():
        return None
    return scores


def _whole_scores(body: _Body, starts: np.ndarray, lengths: np.ndarray):
    """Cells of one to three digits, the usual case, in a few operations on whole columns."""
    if not ((lengths >= 1) & (lengths <= _MAX_DIGITS)).all():
        return None
    read = body.words[starts]
    digits = [((read >> (8 * i)) & 0xFF).astype(np.int64) - _ZERO for i in range(_MAX_DIGITS)]
    first, second, third = digits
    valid = (first >= 0) & (first <= 9)
    valid &= (lengths < 2) | ((second >= 0) & (second <= 9))
    valid &= (lengths < 3) | ((third >= 0) & (third <= 9))
    if not valid.all():
        return None
    two = first * 10 + second
    scores = np.where(lengths == 1, first, np.where(lengths == 2, two, two * 10 + third))
    return scores.astype(np.float64)


def _decimal_scores(body: _Body, starts: np.ndarray, lengths: np.ndarray):
    """Cells of one to three digits, then optionally a point and one or two digits. The
    digits without the point, as a whole number, divided by 10 or 100: one correctly
    rounded division of exact numbers, so the same float as float(cell)."""
    if not ((lengths >= 1) & (lengths <= _MAX_DECIMAL_CELL)).all():
        return None
    cells = body.words[starts].view(np.uint8).reshape(-1, 8)[:, :_MAX_DECIMAL_CELL]
    position = np.arange(_MAX_DECIMAL_CELL)
    inside = position < lengths[:, None]
    points = (cells == _POINT) & inside
    digits = cells - np.uint8(_ZERO)  # wraps below "0", so a digit is exactly <= 9
    if not ((digits <= 9) | points | ~inside).all():
        return None
    pointed = points.sum(axis=1)
    point = np.where(pointed == 1, points.argmax(axis=1), lengths)  # or the cell's end
    decimals = lengths - point - (pointed == 1)
    shaped = (pointed <= 1) & (point >= 1) & (point <= _MAX_DIGITS)
    if not (shaped & ((pointed == 0) | ((decimals >= 1) & (decimals <= 2)))).all():
        return None
    # Each digit's power of ten in the number without its point.
    power = (lengths - pointed - 1)[:, None] - position + (position > point[:, None])
    kept = np.where(inside & ~points, digits, 0).astype(np.int64)
    whole = (kept * 10 ** np.clip(power, 0, _MAX_DECIMAL_CELL)).sum(axis=1)
    return whole / 10.0**decimals


def distinguishing_position(values: list[bytes]) -> int | None:
    """A position within every value at which each value's byte differs from the others'."""
    for position in range(min(map(len, values))):
        if len({v[position] for v in values}) == len(values):
            return position
    return None
