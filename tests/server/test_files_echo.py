"""?echo=all: a CSV answer is the user's own rows, every column in order, with
the answer's columns after them, written as the request was."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support.clients import make_client
from tests.support.spreadsheets import (
    EXCEL_EUROPEAN,
    EXCEL_WINDOWS,
    PUBLIC_HEADER,
    spreadsheet_csv,
    students,
    table,
)


def post_csv(client, body: bytes, query: str = "echo=all"):
    return client.simulate_post(
        "/predictdata", body=body, query_string=query, headers={"Content-Type": "text/csv"}
    )


def read(response, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=delimiter))


def with_notes(rows: list[list]) -> list[list]:
    """A free-text column in the middle, as a school's own sheet has."""
    return [
        [*row[:3], "notes" if n == 0 else f"seen {n}, ok", *row[3:]] for n, row in enumerate(rows)
    ]


def test_every_input_column_comes_back_in_order_with_the_score(client, model):
    body = spreadsheet_csv(with_notes(table(students(model))))
    plain = post_csv(client, body, query="")
    response = post_csv(client, body)
    assert response.status_code == 200, response.text
    echoed = read(response)
    sent = list(csv.reader(io.StringIO(body.decode())))
    assert [row[:-1] for row in echoed] == sent
    assert [row[-1] for row in echoed] == ["math_score", *(r[1] for r in read(plain)[1:])]


def test_a_european_file_comes_back_european(client, model):
    rows = table(students(model))
    response = post_csv(client, spreadsheet_csv(rows, **EXCEL_EUROPEAN))
    assert response.status_code == 200, response.text
    assert response.content.startswith("\ufeff".encode())
    text = response.content.decode("utf-8-sig")
    header, first, second = text.splitlines()[:3]
    assert header == ";".join([*PUBLIC_HEADER, "math_score"])
    plain = read(post_csv(client, spreadsheet_csv(rows)))
    assert first.rsplit(";", 1)[1] == plain[1][-1].replace(".", ",")
    assert second.split(";")[6] == f"{rows[2][6]:g}".replace(".", ",")  # the half kept its comma


def test_a_windows_1252_file_comes_back_as_utf8_after_a_bom(client, model):
    cohort = students(model, 2)
    cohort[0]["id"] = "Zoë"
    response = post_csv(client, spreadsheet_csv(table(cohort), **EXCEL_WINDOWS))
    assert response.status_code == 200, response.text
    assert response.content.startswith("\ufeffid,gender".encode())
    assert read(response)[1][0] == "Zoë"


def test_quoted_cells_come_back_as_the_same_values(client, model):
    cohort = students(model, 3)
    cohort[1]["id"] = 'Smith, "J"\nsecond line'
    response = post_csv(client, spreadsheet_csv(table(cohort)))
    assert response.status_code == 200, response.text
    assert [r[0] for r in read(response)] == ["id", "s0", 'Smith, "J"\nsecond line', "s2"]


def test_the_interval_and_contribution_columns_come_after_the_score(model):
    client = make_client(model)
    rows = table(students(model, 2))
    response = post_csv(client, spreadsheet_csv(rows), query="echo=all&interval=90&explain=true")
    assert response.status_code == 200, response.text
    header = read(response)[0]
    assert header[: len(PUBLIC_HEADER) + 4] == [
        *PUBLIC_HEADER, "math_score", "math_score_lower", "math_score_upper", "interval_level",
    ]  # fmt: skip
    assert header[-1] == "baseline"
    assert all(len(r) == len(header) for r in read(response))


@pytest.mark.parametrize(
    ("content_type", "body", "query", "message"),
    [
        ("application/json", b"[]", "echo=all", "echo=all applies to text/csv requests only"),
        ("text/csv", b"id\n", "echo=some", "echo='some' is not allowed; use echo=all"),
    ],
)
def test_echo_is_refused_where_it_cannot_apply(client, content_type, body, query, message):
    response = client.simulate_post(
        "/predictdata", body=body, query_string=query, headers={"Content-Type": content_type}
    )
    assert response.status_code == 422
    assert response.json["error"].startswith(message)
