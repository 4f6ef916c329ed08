"""Excel workbooks (.xlsx) in and out with the standard library: the first sheet
read as CSV text for the CSV path, and an answer's rows written as a one-sheet
workbook.

The standard library's zipfile and csv rather than openpyxl: the serving
environment is held to 200 MB installed and is near that already. A workbook is
a zip of XML parts; only the parts a first sheet needs are read, each after its
size is checked, so a small upload cannot expand into a large one, and parsed by
defusedxml, which refuses DTDs and entities outright.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from xml.etree import ElementTree  # nosec B405 # types and ParseError only: defusedxml parses

import defusedxml
import defusedxml.ElementTree

from server.errors import MalformedBody, TooLarge

MEDIA_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
DOC_RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_CELL_REF = re.compile(r"([A-Z]+)(\d+)$")


def first_sheet_as_csv(body: bytes, max_bytes: int) -> bytes:
    """The workbook's first sheet as comma-separated UTF-8 text, one line per
    sheet row (an empty row as a blank line, so rows keep their numbers)."""
    try:
        book = zipfile.ZipFile(io.BytesIO(body))
        sheet = _first_sheet_path(book, max_bytes)
        strings = _shared_strings(book, max_bytes)
        rows = _rows(_part(book, sheet, max_bytes), strings)
    except defusedxml.DefusedXmlException:
        raise MalformedBody(
            "the workbook's XML declares a document type or entities, which spreadsheets "
            "never write: save it again from the spreadsheet as an Excel workbook, or as CSV"
        ) from None
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError) as exc:
        raise MalformedBody(
            f"the body is not a readable .xlsx workbook ({exc}); save it again from the "
            "spreadsheet as an Excel workbook, or as CSV"
        ) from None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        if any(row):
            writer.writerow(row)
        else:
            out.write("\n")
    return out.getvalue().encode()


def _part(book: zipfile.ZipFile, name: str, max_bytes: int) -> ElementTree.Element:
    info = book.getinfo(name)
    if info.file_size > max_bytes:
        raise TooLarge(
            f"the workbook's {name} holds {info.file_size} bytes uncompressed; the limit is "
            f"{max_bytes}: split the sheet"
        )
    return defusedxml.ElementTree.fromstring(book.read(info), forbid_dtd=True)


def _first_sheet_path(book: zipfile.ZipFile, max_bytes: int) -> str:
    workbook = _part(book, "xl/workbook.xml", max_bytes)
    sheet = workbook.find(f"{MAIN}sheets/{MAIN}sheet")
    if sheet is None:
        raise ValueError("the workbook has no sheet")
    target_id = sheet.get(f"{DOC_RELS}id")
    for rel in _part(book, "xl/_rels/workbook.xml.rels", max_bytes).iter(f"{RELS}Relationship"):
        if rel.get("Id") == target_id:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise ValueError("the first sheet's part is not named in the workbook")


def _shared_strings(book: zipfile.ZipFile, max_bytes: int) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    table = _part(book, "xl/sharedStrings.xml", max_bytes)
    return ["".join(t.text or "" for t in item.iter(f"{MAIN}t")) for item in table]


def _rows(sheet: ElementTree.Element, strings: list[str]) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in sheet.iter(f"{MAIN}row"):
        number = int(row.get("r", len(rows) + 1))
        while len(rows) < number - 1:
            rows.append([])  # rows the sheet leaves out are empty
        cells: list[str] = []
        for cell in row.iter(f"{MAIN}c"):
            match = _CELL_REF.match(cell.get("r", ""))
            column = _column_index(match.group(1)) if match else len(cells)
            cells.extend([""] * (column - len(cells)))
            cells.append(_cell_text(cell, strings))
        rows.append(cells)
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) for r in rows]


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def _cell_text(cell: ElementTree.Element, strings: list[str]) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{MAIN}t"))
    value = cell.findtext(f"{MAIN}v") or ""
    if kind == "s":
        return strings[int(value)]
    if kind == "n" and value.endswith(".0"):
        return value[:-2]  # a whole number as a spreadsheet shows it
    return value


def workbook(rows: Iterable[Sequence[str]], numeric_columns: Iterable[int] = ()) -> bytes:
    """A one-sheet workbook of text rows; cells of `numeric_columns` that hold a
    number are written as numbers (the scores), the rest as text."""
    numeric = set(numeric_columns)
    sheet = io.StringIO()
    sheet.write(f'<worksheet xmlns="{MAIN[1:-1]}"><sheetData>')
    for r, row in enumerate(rows, 1):
        sheet.write(f'<row r="{r}">')
        for c, value in enumerate(row):
            if r > 1 and c in numeric and _is_number(value):
                sheet.write(f"<c><v>{value}</v></c>")
            elif value:
                sheet.write(f'<c t="inlineStr"><is><t>{_xml(value)}</t></is></c>')
            else:
                sheet.write("<c/>")
        sheet.write("</row>")
    sheet.write("</sheetData></worksheet>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in _PACKAGE.items():
            book.writestr(name, text)
        book.writestr("xl/worksheets/sheet1.xml", sheet.getvalue())
    return out.getvalue()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _xml(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # XML 1.0 cannot hold most control characters: they are dropped.
    return "".join(c for c in text if c >= " " or c in "\t\n\r")


_PACKAGE = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{RELS[1:-1]}"><Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{MAIN[1:-1]}" xmlns:r="{DOC_RELS[1:-1]}"><sheets>'
        '<sheet name="Predictions" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{RELS[1:-1]}"><Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}
