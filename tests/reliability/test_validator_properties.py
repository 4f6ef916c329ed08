"""Property-based tests of request validation, in-process through falcon.testing.

For any JSON value or CSV table: the answer is never a 500; a request every
row of which is valid (by an independent reading of the schema, below) is
scored, in order, as onnxruntime scores it in the test; and a request with
invalid fields is refused naming exactly those rows and fields.

PROPERTY_EXAMPLES (default 300) sets the examples per property; a longer hunt:
PROPERTY_EXAMPLES=10000 pytest tests/reliability/test_validator_properties.py
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from model_store.schema import CATEGORICAL
from model_store.store import ModelStore
from server import csv_fast
from server.csv_fast import FastCsvReader
from server.csv_input import CsvParser
from server.errors import RequestRejected
from server.model import load_verified_model
from tests.support.clients import make_client
from tests.support.models import STUDENT, copy_committed_store
from tests.support.workload import Oracle, scores_match

MAX_ROWS = 5  # small, so that short arrays cross the row limit too
INT64 = 2**63
# Integers a float can hold; larger ones have a property of their own below.
FLOAT_SAFE_INT = 10**300

PROPERTY = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 300)),
    deadline=None,
    database=None,  # no example database: a failure prints the example that reproduces it
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    store = copy_committed_store(tmp_path_factory.mktemp("store"))
    model = load_verified_model(store, None, threads=1)
    return make_client(model, max_rows=MAX_ROWS), Oracle(store, model.version)


@functools.cache
def schema_features() -> list[dict]:
    """The committed model's features, read from its metadata as they are written,
    not through the contract under test (read when first drawn)."""
    committed = ModelStore()
    return committed.metadata(committed.current_version())["schema"]["features"]


def feature_names() -> list[str]:
    return [f["name"] for f in schema_features()]


# -- strategies --------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-FLOAT_SAFE_INT, FLOAT_SAFE_INT)
    | st.floats()  # NaN and infinities too: json.dumps writes them as literals
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def valid_value(feature: dict):
    if feature["kind"] == CATEGORICAL:
        return st.sampled_from(feature["categories"])
    low, high = feature["minimum"], feature["maximum"]
    whole = st.integers(math.ceil(low), math.floor(high))
    return whole | st.floats(low, high) | st.sampled_from([low, high, -0.0])


def near_miss(feature: dict):
    if feature["kind"] == CATEGORICAL:
        return st.sampled_from([c.upper() for c in feature["categories"]] + [" ", ""])
    low, high = feature["minimum"], feature["maximum"]
    return st.sampled_from([low - 1, high + 0.01, math.nan, math.inf, -math.inf, str(low), True])


unknown_names = st.text(max_size=8).filter(lambda name: name not in [*feature_names(), "id"])
ids = (
    st.none() | st.text(max_size=12) | st.integers(-INT64, INT64 - 1) | st.floats() | st.booleans()
)


@st.composite
def students(draw, valid: bool = False) -> dict:
    """A student object: every field valid, or (by default) each field possibly
    valid, nearly valid, any JSON value, or missing."""
    kinds = ["valid"] if valid else ["valid"] * 8 + ["near", "junk", "missing"]
    student = {}
    for feature in schema_features():
        kind = draw(st.sampled_from(kinds))
        if kind == "valid":
            student[feature["name"]] = draw(valid_value(feature))
        elif kind == "near":
            student[feature["name"]] = draw(near_miss(feature))
        elif kind == "junk":
            student[feature["name"]] = draw(json_values)
    if draw(st.booleans()):
        student["id"] = draw(ids)
    if draw(st.integers(0, 9)) == 0:
        student[draw(unknown_names)] = draw(json_values)
    return student


json_bodies = st.one_of(
    students(valid=True),
    students(),
    st.lists(students(valid=True) | students(valid=True) | students(), max_size=MAX_ROWS + 2),
    json_values,
)

# -- an independent reading of the schema -------------------------------------


def value_problem(feature: dict, value) -> bool:
    if feature["kind"] == CATEGORICAL:
        return not (isinstance(value, str) and value in feature["categories"])
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    return not (math.isfinite(value) and feature["minimum"] <= value <= feature["maximum"])


def id_problem(value) -> bool:
    if value is None or isinstance(value, str):
        return False
    return isinstance(value, bool) or not isinstance(value, int) or not -INT64 <= value < INT64


def spelled_as_fields(row: object) -> object:
    """The row as the server reads it: a missing field taken from another
    spelling of its name (case, blanks, "/" for "_", a leading BOM)."""
    if not isinstance(row, dict):
        return row
    resolved = dict(row)
    for key, value in row.items():
        name = key.lstrip("\ufeff").strip().lower().replace(" ", "_").replace("/", "_")
        if name in [*feature_names(), "id"] and name not in resolved:
            resolved[name] = value
    return resolved


def json_problems(rows: list) -> set[tuple[int, str | None]]:
    problems = set()
    for number, row in enumerate(map(spelled_as_fields, rows), 1):
        if not isinstance(row, dict):
            problems.add((number, None))
            continue
        for feature in schema_features():
            name = feature["name"]
            if name not in row or value_problem(feature, row[name]):
                problems.add((number, name))
        if id_problem(row.get("id")):
            problems.add((number, "id"))
    return problems


def named_in(answer) -> set[tuple[int | None, str | None]]:
    return {(d["row"], d["field"]) for d in answer.json.get("details", [])}


def post(client, body: bytes, content_type: str):
    return client.simulate_post("/predictdata", body=body, headers={"Content-Type": content_type})


# -- properties ----------------------------------------------------------------


@PROPERTY
@given(payload=json_bodies)
def test_any_json_value_is_scored_in_order_or_refused_naming_rows_and_fields(served, payload):
    client, oracle = served
    answer = post(client, json.dumps(payload).encode(), "application/json")
    event(f"status {answer.status_code}")
    assert answer.status_code != 500, answer.text
    if not isinstance(payload, dict | list):
        assert answer.status_code == 422 and "details" not in answer.json  # a body-level error
        return
    rows = [payload] if isinstance(payload, dict) else payload
    if len(rows) > MAX_ROWS:
        assert answer.status_code == 413, answer.text
        return
    problems = json_problems(rows)
    rows = [spelled_as_fields(row) for row in rows]
    if problems:
        assert answer.status_code == 422, answer.text
        assert named_in(answer) == problems
        return
    assert answer.status_code == 200, answer.text
    body = answer.json
    assert body["model_version"] == oracle.version
    if isinstance(payload, dict):
        assert scores_match([body["math_score"]], oracle.scores(rows))
        assert body.get("id") == rows[0].get("id")
    else:
        assert body["count"] == len(rows)
        assert scores_match([p["math_score"] for p in body["predictions"]], oracle.scores(rows))
        if any(r.get("id") is not None for r in rows):
            assert [p.get("id") for p in body["predictions"]] == [r.get("id") for r in rows]


@PROPERTY
@given(text=st.text(max_size=200))
def test_any_utf8_text_gets_an_answer_and_never_a_500(served, text):
    client, _ = served
    for content_type in ("application/json", "text/csv"):
        answer = post(client, text.encode(), content_type)
        event(f"{content_type}: status {answer.status_code}")
        assert answer.status_code in (200, 400, 413, 422), answer.text
        if answer.status_code != 200:
            assert answer.json["error"]


# -- CSV -------------------------------------------------------------------------

CSV_JUNK = st.text(max_size=12) | st.sampled_from(["nan", "inf", "1e400", " ", "-1", "101", "1_0"])


def cell_for(feature: dict, valid: bool):
    if feature["kind"] == CATEGORICAL:
        good = st.sampled_from(feature["categories"])
    else:
        low, high = feature["minimum"], feature["maximum"]
        good = st.integers(math.ceil(low), math.floor(high)).map(str) | st.floats(low, high).map(
            repr
        )
    return good if valid else st.one_of(good, good, good, good, CSV_JUNK)


# Any text but a carriage return, whose quoting has a test of its own below.
csv_ids = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=6)


@st.composite
def csv_tables(draw) -> tuple[list[str], list[list[str]]]:
    header = draw(st.permutations([*feature_names(), "id"]))
    if draw(st.integers(0, 5)) == 0:
        header = header[1:]  # sometimes a column is missing
    by_name = {f["name"]: f for f in schema_features()}

    def row(valid: bool):
        return st.tuples(
            *(cell_for(by_name[n], valid) if n in by_name else csv_ids for n in header)
        )

    rows = draw(st.lists(row(valid=True) | row(valid=False), max_size=MAX_ROWS + 1))
    return header, [list(r) for r in rows]


def csv_cell_problem(feature: dict, cell: str) -> bool:
    text = cell.strip()
    if feature["kind"] == CATEGORICAL:
        return text not in feature["categories"]
    try:
        number = float(text)
    except ValueError:
        return True
    return not (math.isfinite(number) and feature["minimum"] <= number <= feature["maximum"])


def csv_value(feature: dict, cell: str):
    return cell.strip() if feature["kind"] == CATEGORICAL else float(cell)


@PROPERTY
@given(table=csv_tables())
def test_any_csv_table_is_scored_in_order_or_refused_naming_rows_and_fields(served, table):
    client, oracle = served
    header, rows = table
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])  # quotes any \r or \n
    answer = post(client, out.getvalue().encode(), "text/csv")
    event(f"status {answer.status_code}")
    assert answer.status_code != 500, answer.text
    if not set(feature_names()) <= set(header):
        assert answer.status_code == 422 and "lacks column" in answer.json["error"]
        return
    if len(rows) > MAX_ROWS:
        assert answer.status_code == 413, answer.text
        return
    position = {name: i for i, name in enumerate(header)}
    problems = {
        (number, f["name"])
        for number, row in enumerate(rows, 2)  # the header is the spreadsheet's row 1
        for f in schema_features()
        if csv_cell_problem(f, row[position[f["name"]]])
    }
    if problems:
        assert answer.status_code == 422, answer.text
        assert named_in(answer) == problems
        return
    assert answer.status_code == 200, answer.text
    students = [
        {f["name"]: csv_value(f, row[position[f["name"]]]) for f in schema_features()}
        for row in rows
    ]
    answered = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8"), newline="")))
    if "id" in position:
        assert [r["id"] for r in answered] == [row[position["id"]] for row in rows]
    if rows:
        assert scores_match([float(r["math_score"]) for r in answered], oracle.scores(students))


@PROPERTY
@given(score=st.integers())
@example(score=10**400)  # beyond float range: float() of it raised, a 500 (fixed)
def test_any_integer_score_is_scored_or_refused_as_out_of_range(served, score):
    client, _ = served
    answer = post(
        client, json.dumps({**STUDENT, "reading_score": score}).encode(), "application/json"
    )
    assert answer.status_code == (200 if 0 <= score <= 100 else 422), answer.text


# -- bugs found here, fixed: each test keeps the example that used to fail -------


@PROPERTY
@given(body=st.binary(max_size=200))
@example(body=json.dumps(STUDENT).encode().replace(b"female", b"f\xe9male"))
def test_any_bytes_get_an_answer_and_never_a_500(served, body):
    client, _ = served
    for content_type in ("application/json", "text/csv"):
        assert post(client, body, content_type).status_code in (200, 400, 413, 422)


@PROPERTY
@given(student_id=st.integers() | st.text())
@example(student_id=2**64)
@example(student_id="\ud800")
def test_the_verdict_on_an_id_does_not_depend_on_the_other_fields(served, student_id):
    client, _ = served
    alone = post(client, json.dumps({**STUDENT, "id": student_id}).encode(), "application/json")
    beside = post(
        client,
        json.dumps({**STUDENT, "id": student_id, "lunch": "caviar"}).encode(),
        "application/json",
    )
    assert alone.status_code in (200, 422), alone.text
    id_refused = (1, "id") in named_in(beside)
    assert (alone.status_code == 422) == id_refused


def test_a_csv_answer_declares_its_utf8_charset(served):
    client, _ = served
    header = ",".join([*STUDENT, "id"])
    row = ",".join([*map(str, STUDENT.values()), "Zoë"])
    answer = post(client, f"{header}\n{row}\n".encode(), "text/csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].replace(" ", "").lower() == "text/csv;charset=utf-8"


def test_an_id_with_a_carriage_return_comes_back_as_one_csv_field(served):
    client, _ = served
    header = ",".join([*STUDENT, "id"])
    row = ",".join(map(str, STUDENT.values()))
    answer = post(client, f'{header}\n{row},"a\rb"\n{row},c\n'.encode(), "text/csv")
    assert answer.status_code == 200
    answered = list(csv.DictReader(io.StringIO(answer.content.decode(), newline="")))
    assert [r["id"] for r in answered] == ["a\rb", "c"]


# -- the CSV fast path's contract ---------------------------------------------------
# FastCsvReader.read(text) returns what CsvParser.parse_text(text) (the csv module)
# returns or raises, or None. Text weighted toward what either reader treats
# specially: commas, quotes, CR, LF, NUL and lines longer than the csv module's cell
# limit (lowered here, through its public setter, so that such lines stay short).

FAST_PATH_MAX_ROWS = 3
CELL_LIMIT = 400  # twice a valid line, whose length the fast path checks
SPECIAL = ',"\r\n\x00'


def _fast_path_cells():
    values = [c for f in schema_features() if f["kind"] == CATEGORICAL for c in f["categories"]]
    numbers = ["72", "0.5e2", "-0", " 7 ", "1_0", "nan", "inf", "1e400", "101", "", "\u0661"]
    numbers += ["72,5", "7,5e1", "1,2.5", ",5"]  # a decimal comma where the separator is ";"
    special = st.text(st.sampled_from([*SPECIAL, ";", "\t", " ", "a", "#", "0", "."]), max_size=6)
    return st.sampled_from(values + numbers) | special | st.text(max_size=4)


def _near_misses(categories: list[str]) -> list[str]:
    """Cells that differ from a category by one character (changed, dropped or
    added) or are two of them: the fast path finds a category by one byte, then
    compares every byte."""
    cells = set()
    for value in categories:
        for i in range(len(value)):
            cells |= {
                value[:i] + chr(ord(value[i]) ^ 1) + value[i + 1 :],
                value[:i] + value[i + 1 :],
            }
        cells |= {value + "s", value * 2}
    return sorted(cells - set(categories))


@st.composite
def csv_like_texts(draw) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(st.sampled_from([*SPECIAL, "a", "1"]) | st.characters(), max_size=80))
    names = draw(st.permutations([*feature_names(), "id"]))
    if draw(st.integers(0, 5)) == 0:
        names = names[1:]
    separator = draw(st.sampled_from([",", ",", ";", "\t"]))
    header = separator.join(draw(st.sampled_from([n, n.upper(), f" {n}"])) for n in names)
    line_end = st.sampled_from(["\n", "\n", "\r\n", "\r", "\n\n", ""])
    by_name = {f["name"]: f for f in schema_features()}
    # An id cell just under, at or over the cell limit, or short.
    id_cell = st.text(max_size=4) | st.text("a", min_size=CELL_LIMIT - 1, max_size=CELL_LIMIT + 1)
    valid_row = st.tuples(
        *(cell_for(by_name[n], valid=True) if n in by_name else id_cell for n in names)
    ).map(separator.join)
    any_row = st.lists(_fast_path_cells(), min_size=len(names) - 1, max_size=len(names) + 1)

    def near_or_valid(name):
        feature = by_name[name]
        if feature["kind"] != CATEGORICAL:
            return cell_for(feature, valid=True)
        near = st.sampled_from(_near_misses(feature["categories"]))
        return cell_for(feature, valid=True) | near

    near_row = st.tuples(*(near_or_valid(n) if n in by_name else id_cell for n in names)).map(
        separator.join
    )
    row = valid_row | valid_row | valid_row | near_row | any_row.map(separator.join)
    long_line = st.text(
        st.sampled_from(["a", "a", "a", "b", separator]), min_size=CELL_LIMIT // 2,
        max_size=3 * CELL_LIMIT,
    )  # fmt: skip
    blank = st.sampled_from(["", " ", "\t", ",", separator])
    rows = draw(
        st.lists(st.tuples(row | long_line | blank, line_end), max_size=FAST_PATH_MAX_ROWS + 2)
    )
    return draw(st.sampled_from(["\n", "\r\n"])).join([header, "".join(r + e for r, e in rows)])


def _outcome(read, text: str):
    """What a reader makes of `text`: the batch as comparable values, or the refusal."""
    try:
        batch = read(text)
    except RequestRejected as exc:
        return ("refused", type(exc).__name__, exc.message, exc.details, exc.total)
    if batch is None:
        return None
    columns = {
        name: [v.hex() if isinstance(v, float) else v for v in map(_plain, column)]
        for name, column in batch.columns.items()
    }
    return ("read", batch.size, batch.single, batch.ids, columns)


def _plain(value):
    return float(value) if hasattr(value, "dtype") and value.dtype.kind == "f" else value


@pytest.fixture(scope="module")
def csv_readers(served):
    client, oracle = served
    committed = ModelStore()
    model = load_verified_model(committed, committed.current_version(), threads=1)
    parser = CsvParser(model.contract, max_rows=FAST_PATH_MAX_ROWS)
    return FastCsvReader(parser), parser


@PROPERTY
@given(text=csv_like_texts())
@example(text=f"{','.join(STUDENT)}\n{','.join(map(str, STUDENT.values()))}\n")
def test_the_csv_fast_path_reads_as_the_csv_module_does_or_defers(csv_readers, text):
    fast, parser = csv_readers
    limit = csv.field_size_limit(CELL_LIMIT)
    keyed_from = csv_fast.KEYED_FROM
    try:
        fast_outcome = _outcome(fast.read, text)
        csv_fast.KEYED_FROM = 0  # categories found by a byte, as in a large body
        keyed_outcome = _outcome(fast.read, text)
        slow_outcome = _outcome(parser.parse_text, text)
    finally:
        csv.field_size_limit(limit)
        csv_fast.KEYED_FROM = keyed_from
    event("deferred" if fast_outcome is None else f"fast path: {fast_outcome[0]}")
    assert keyed_outcome == fast_outcome
    if fast_outcome is not None:
        assert fast_outcome == slow_outcome


# -- the byte reader (server/csv_bytes.py), the fast path's first --------------------
# Bodies mostly as school offices export them (every cell plain, the odd one near a
# valid one), where the byte reader reads rather than defers: what it reads must be
# what the csv module path reads.

SCORE_CELLS = ["0", "7", "07", "007", "0072", "100", "101", "1000", "", " 7", "7 ", "7.5", "-1"]
SCORE_CELLS += ["1e2", "+7", "\u0663", "7a", "a7", "/", ":"]  # "/" and ":" border the digits
SCORE_CELLS += ["7.5", "100.0", "100.5", "0.05", "7.", ".5", "7.555", "07.50", "1.2.3", "7..5"]
SCORE_CELLS += ["1000.5", "7.5.", "7,5", "7/5"]


@st.composite
def plain_tables(draw) -> str:
    extra = draw(st.sampled_from([[], ["id"], ["note"], ["id", "note"]]))
    names = draw(st.permutations([*feature_names(), *extra]))
    separator = draw(st.sampled_from([",", ";", "\t"]))
    by_name = {f["name"]: f for f in schema_features()}

    def cell(name):
        feature = by_name.get(name)
        if feature is None:
            return st.text(st.characters(codec="ascii", exclude_characters='"\r\n\x00'), max_size=5)
        if feature["kind"] == CATEGORICAL:
            near = st.sampled_from(_near_misses(feature["categories"]))
            valid = st.sampled_from(feature["categories"])
            return valid | near if draw(st.integers(0, 3)) == 0 else valid
        numbers = st.integers(0, 100).map(str)
        if draw(st.integers(0, 2)) == 0:  # scores with one or two decimals, as some sheets keep
            numbers |= st.integers(0, 10_000).map(lambda h: f"{h // 100}.{h % 100:02d}")
            numbers |= st.integers(0, 1_000).map(lambda t: f"{t // 10}.{t % 10}")
        return numbers | st.sampled_from(SCORE_CELLS) if draw(st.integers(0, 3)) == 0 else numbers

    rows = draw(st.lists(st.tuples(*map(cell, names)).map(separator.join), min_size=1, max_size=40))
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    last = draw(st.sampled_from([line_end, ""]))
    return separator.join(names) + line_end + line_end.join(rows) + last


@PROPERTY
@given(text=plain_tables())
def test_the_byte_reader_reads_as_the_csv_module_does_or_defers(csv_readers, text):
    fast, parser = csv_readers
    keyed_from, max_rows = csv_fast.KEYED_FROM, parser.max_rows
    try:
        csv_fast.KEYED_FROM, parser.max_rows = 0, 100  # as for a large body
        outcome = _outcome(fast.read, text)
        slow = _outcome(parser.parse_text, text)
    finally:
        csv_fast.KEYED_FROM, parser.max_rows = keyed_from, max_rows
    event("deferred" if outcome is None else f"fast path: {outcome[0]}")
    if outcome is not None:
        assert outcome == slow


def test_the_byte_reader_reads_a_plain_body_itself(csv_readers):
    """The byte reader is not silently deferring: a plain body with ids is its own."""
    fast, parser = csv_readers
    header = ",".join(["id", *STUDENT])
    rows = [",".join([f"s{i}", *map(str, STUDENT.values())]) for i in range(3)]
    layout = parser.layout(header.split(","), parser.dialect(header))
    text = "\n".join([header, *rows]) + "\n"
    columns, ids = fast._bytes.read(text, len(header) + 1, 3, layout)
    assert ids == ["s0", "s1", "s2"]
    assert columns["reading_score"].tolist() == [float(STUDENT["reading_score"])] * 3
    decimals = text.replace(f",{STUDENT['reading_score']},", ",72.5,", 1)
    decimals = decimals.replace(f",{STUDENT['writing_score']}\n", ",90.25\n")
    columns, _ = fast._bytes.read(decimals, len(header) + 1, 3, layout)
    assert columns["reading_score"].tolist()[0] == 72.5
    assert columns["writing_score"].tolist() == [90.25] * 3
    plain = parser.parse_text(decimals).columns
    for name in ("reading_score", "writing_score"):
        assert columns[name].tolist() == list(map(float, plain[name]))
