"""CSV answers: a math_score column, after an id column if the request had one."""

from __future__ import annotations

import csv
import io


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
# out of the range is formatted, slower but alike.
SCORE_TEXT = _ScoreText((h / 100, str(h / 100)) for h in range(-5000, 15001) if h)


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
    try:
        joined = "".join(ids)
    except TypeError:  # an id that is not a str: csv.writer formats it
        joined = None
    if joined is not None and not any(c in joined for c in ',"\n\r'):
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
