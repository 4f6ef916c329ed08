"""CSV files as spreadsheets write them, for the tests of files as schools have them.

Excel's "CSV UTF-8" writes a byte-order mark and CRLF line ends; where the
decimal separator is a comma (most of Europe) it separates cells with ";" and
writes 72,5 for 72.5; its plain "CSV" on Windows writes Windows-1252.
"""

from __future__ import annotations

import csv
import io

# The public data set's own header, with an id column first.
PUBLIC_HEADER = [
    "id", "gender", "race/ethnicity", "parental level of education", "lunch",
    "test preparation course", "reading score", "writing score",
]  # fmt: skip
ACCENTED_IDS = ["Zoë", "José", "Françoise", "Müller", "Ångström", "Renée €"]  # all in cp1252


def students(model, count: int | None = None) -> list[dict]:
    """The metadata's parity records (with halves added to some scores), with ids."""
    records = model.metadata["parity_sample"]["records"]
    count = count or len(records)
    out = []
    for i in range(count):
        record = dict(records[i % len(records)])
        if i % 3 == 1:
            record["reading_score"] = min(record["reading_score"] + 0.5, 100)
        out.append({"id": f"s{i}", **record})
    return out


def table(students: list[dict]) -> list[list]:
    """The header row (PUBLIC_HEADER), then one row per student."""
    names = [n.replace(" ", "_").replace("/", "_") for n in PUBLIC_HEADER]
    return [PUBLIC_HEADER, *([s[n] for n in names] for s in students)]


def spreadsheet_csv(
    rows: list[list],
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bool = False,
    line_end: str = "\n",
    decimal_comma: bool = False,
) -> bytes:
    """`rows` written as a spreadsheet writes them."""

    def cell(value) -> str:
        if isinstance(value, float):
            text = f"{value:g}"
            return text.replace(".", ",") if decimal_comma else text
        return str(value)

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    writer.writerows([[cell(v) for v in row] for row in rows])
    return ("\ufeff" if bom else "").encode(encoding) + out.getvalue().encode(encoding)


EXCEL_EUROPEAN = {"delimiter": ";", "bom": True, "line_end": "\r\n", "decimal_comma": True}
EXCEL_WINDOWS = {"encoding": "cp1252", "line_end": "\r\n"}
