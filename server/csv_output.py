"""CSV answers: a math_score column, after an id column if the request had one,
or (?echo=all, and score_file's default) after every column the request sent."""

from __future__ import annotations

import csv
import functools
import io
from typing import TYPE_CHECKING

import numpy as np

from server.csv_text import BOM, header_cells
from server.rules import ID_FIELD
from server.xlsx import workbook

if TYPE_CHECKING:
    from server.csv_input import CsvTable
    from server.model import Scored


class _ScoreText(dict):
    """str(score) for the scores CSV answers hold, looked up rather than formatted.

    Scores are rounded to hundredths (ServedModel.scores), so the likely ones
    are few and their text is made once, here: a lookup is several times faster
    than formatting, a sizeable share of a large CSV answer. An entry is found
    only for an equal float, whose text is the same, except 0.0, which equals
    -0.0 but reads otherwise: it is left out. Anything not found (-0.0, nan, a
    score out of the range) is formatted. Keys must be floats: an int equal to
    one would get its text."""

    def __missing__(self, score: float) -> str:
        return str(score)


# -50.00 to 150.00, wider than any model's answers on a 0-100 target; a score
# out of the range is formatted, slower but alike. Each text is formatted once,
# for all four tables (a sizeable share of the start-up otherwise).
_LOWEST_CENT = -5000
_CENTS = [h / 100 for h in range(_LOWEST_CENT, 15001)]
_TEXTS = list(map(str, _CENTS))
_TEXTS_COMMA = [t.replace(".", ",") for t in _TEXTS]
SCORE_TEXT = _ScoreText(zip(_CENTS, _TEXTS, strict=True))
# The same texts by count of hundredths, from -50.00: what hundredths_text indexes.
_CENT_TEXT = np.array(_TEXTS, dtype=object)
_CENT_TEXT_COMMA = np.array(_TEXTS_COMMA, dtype=object)


class _CommaScoreText(dict):
    """SCORE_TEXT with a decimal comma, for files whose separator is ";"."""

    def __missing__(self, score: float) -> str:
        return str(score).replace(".", ",")


SCORE_TEXT_COMMA = _CommaScoreText(zip(_CENTS, _TEXTS_COMMA, strict=True))
del SCORE_TEXT[0.0], SCORE_TEXT_COMMA[0.0]


def csv_response(scores: list[float], ids: list | None) -> bytes:
    """The CSV answer: a math_score column, after an id column if the request had one."""
    if ids is None:
        return "\n".join(["math_score", *map(SCORE_TEXT.__getitem__, scores), ""]).encode()
    out = io.StringIO()
    out.write("id,math_score\n")
    write_scored_rows(out, ids, scores)
    return out.getvalue().encode()


def write_scored_rows(out, ids: list, scores: list[float]) -> None:
    """(id, math_score) CSV rows, as csv.writer writes them.

    When no id needs quoting (all are str, none holds a comma, a quote or a line
    break), the rows are joined directly, with each score's text looked up:
    several times faster than csv.writer for a large cohort.

    QUOTE_MINIMAL quotes the line terminator ("\n") but not a lone "\r", at which
    readers also end a row: quote every field when an id holds one."""
    if joinable(ids):
        parts = ["", ",", "", "\n"] * len(ids)
        parts[0::4] = ids
        parts[2::4] = map(SCORE_TEXT.__getitem__, scores)  # ValueError if the lengths differ
        out.write("".join(parts))
        return
    carriage_return = any(isinstance(i, str) and "\r" in i for i in ids)
    writer = csv.writer(
        out, lineterminator="\n", quoting=csv.QUOTE_ALL if carriage_return else csv.QUOTE_MINIMAL
    )
    writer.writerows(zip(ids, scores, strict=True))


def answer_columns(scored: Scored, decimal_comma: bool = False) -> list[tuple[str, list[str]]]:
    """The CSV answer's columns after the id, as text: the score, then the interval
    and the contributions when asked for (the JSON answer's fields, flattened)."""
    comma = decimal_comma

    def text(values) -> list[str]:
        return hundredths_text(np.asarray(values, dtype=np.float64), comma)

    rows = len(scored.scores)
    columns = [("math_score", text(scored.scores))]
    if scored.interval_level is not None:
        columns += [
            ("math_score_lower", text(scored.lower)),
            ("math_score_upper", text(scored.upper)),
            ("interval_level", [str(scored.interval_level)] * rows),
        ]
    if scored.contributions is not None:
        columns += [
            (f"contribution_{name}", text(points)) for name, points in scored.contributions.items()
        ]
        baseline = (SCORE_TEXT_COMMA if comma else SCORE_TEXT)[scored.baseline]
        columns.append(("baseline", [baseline] * rows))
    return columns


def hundredths_text(values: np.ndarray, decimal_comma: bool = False) -> list[str]:
    """str() of each value, all whole numbers of hundredths, looked up at once by
    their count of hundredths (much faster than SCORE_TEXT per value); formatted
    if any is out of the table's range or a negative zero. With a decimal comma
    where str() has a point, if `decimal_comma`."""
    index = _cent_index(values)
    if index is None:
        texts = [str(v) for v in values.tolist()]
        return [t.replace(".", ",") for t in texts] if decimal_comma else texts
    table = _CENT_TEXT_COMMA if decimal_comma else _CENT_TEXT
    return table[index].tolist()


def hundredths_cells(values: np.ndarray, decimal_comma: bool, before: str) -> list[bytes]:
    """hundredths_text's texts, each after `before` (a separator), as UTF-8."""
    index = _cent_index(values)
    if index is None:
        return [(before + text).encode() for text in hundredths_text(values, decimal_comma)]
    return _cells_table(before, decimal_comma)[index].tolist()


def _cent_index(values: np.ndarray) -> np.ndarray | None:
    """Each value's place in the tables (its count of hundredths from the lowest),
    or None if any is out of their range or a negative zero."""
    index = np.rint(values * 100) - _LOWEST_CENT
    if len(values) and not (
        index.min() >= 0
        and index.max() < len(_CENT_TEXT)
        and not (np.signbit(values) & (values == 0)).any()
    ):
        return None
    return index.astype(np.intp)


@functools.cache
def _cells_table(before: str, decimal_comma: bool) -> np.ndarray:
    table = _CENT_TEXT_COMMA if decimal_comma else _CENT_TEXT
    return np.array([(before + text).encode() for text in table], dtype=object)


def csv_answer(scored: Scored, ids: list | None) -> bytes:
    """The CSV answer with whatever columns `scored` holds."""
    columns = answer_columns(scored)
    names = [name for name, _ in columns]
    out = io.StringIO()
    out.write(",".join([ID_FIELD, *names] if ids is not None else names) + "\n")
    write_answer_rows(out, ids, [values for _, values in columns])
    return out.getvalue().encode()


def write_answer_rows(out, ids: list | None, columns: list[list[str]]) -> None:
    """CSV rows of text columns that never need quoting, after the ids if any, as
    csv.writer writes them (see write_scored_rows for the quoting of ids)."""
    if ids is not None and not joinable(ids):
        carriage_return = any(isinstance(i, str) and "\r" in i for i in ids)
        quoting = csv.QUOTE_ALL if carriage_return else csv.QUOTE_MINIMAL
        csv.writer(out, lineterminator="\n", quoting=quoting).writerows(
            zip(ids, *columns, strict=True)
        )
        return
    cells = columns if ids is None else [ids, *columns]
    # Laid out cell, separator, cell, ..., line end: one join, as in write_scored_rows.
    width = 2 * len(cells)
    parts = [","] * (width * len(cells[0]))
    parts[width - 1 :: width] = ["\n"] * len(cells[0])
    for position, column in enumerate(cells):
        parts[2 * position :: width] = column  # ValueError if the lengths differ
    out.write("".join(parts))


def joinable(ids: list) -> bool:
    """Every id a str that csv.writer would write as it is."""
    try:
        joined = "".join(ids)
    except TypeError:
        return False
    return not any(c in joined for c in ',"\n\r')


def echo_answer(table: CsvTable, scored: Scored) -> bytes:
    """The request's header and student lines, each followed by the answer's
    columns, in the request's separator (and decimal comma); UTF-8, after a
    byte-order mark when the request was not plain UTF-8, so that the
    spreadsheet which wrote it reads it back."""
    columns = answer_columns(scored, table.dialect.decimal_comma)
    delimiter = table.dialect.delimiter
    head = delimiter.join([table.header, *(name for name, _ in columns)]) + "\n"
    body = joined_rows(table.lines, [values for _, values in columns], delimiter)
    return ((BOM if table.answer_needs_bom else "") + head + body).encode()


def joined_rows(prefixes: list[str] | None, columns: list[list[str]], delimiter: str) -> str:
    """Rows of text cells that need no quoting, each after its prefix (a record's
    text, already written as CSV) if any, joined at C speed."""
    fields = [*([prefixes] if prefixes is not None else []), *columns]
    if not fields or not fields[0]:
        return ""
    width = 2 * len(fields)  # each field, then a delimiter or the line end
    parts = [delimiter] * (len(fields[0]) * width)
    for position, values in enumerate(fields):
        parts[2 * position :: width] = values  # ValueError if the lengths differ
    parts[width - 1 :: width] = ["\n"] * len(fields[0])
    return "".join(parts)


def workbook_answer(table: CsvTable, scored: Scored) -> bytes:
    """The echoed answer as a one-sheet .xlsx workbook: the request's header and
    rows, then the answer's columns, written as numbers."""
    columns = answer_columns(scored)
    header = header_cells(table.header, table.dialect)
    text = "\n".join(table.lines)
    records = list(csv.reader(io.StringIO(text), delimiter=table.dialect.delimiter)) if text else []
    names = [name for name, _ in columns]
    rows = [[*header, *names]]
    rows += [
        [*record, *cells] for record, *cells in zip(records, *(v for _, v in columns), strict=True)
    ]
    numeric = range(len(header), len(header) + len(names))
    return workbook(rows, numeric)
