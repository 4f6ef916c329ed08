"""python -m server.score_file on files as spreadsheets write them: the output is
the user's rows with the answer after them, the same bytes as POST
/predictdata?echo=all, and a bad row has the same row number in both."""

from __future__ import annotations

import csv
import io

import pytest

from server.model import load_verified_model
from server.score_file import ScoringStopped, main, score_file
from tests.support.spreadsheets import (
    ACCENTED_IDS,
    EXCEL_EUROPEAN,
    EXCEL_WINDOWS,
    spreadsheet_csv,
    students,
    table,
)

DIALECTS = {
    "plain": {},
    "excel-european": EXCEL_EUROPEAN,
    "excel-windows": EXCEL_WINDOWS,
    "tab": {"delimiter": "\t"},
}


def accented(model, count: int | None = None) -> list[dict]:
    cohort = students(model, count)
    for student, name in zip(cohort, ACCENTED_IDS, strict=False):
        student["id"] = name
    return cohort


def echoed_by_the_api(client, body: bytes):
    return client.simulate_post(
        "/predictdata", body=body, query_string="echo=all", headers={"Content-Type": "text/csv"}
    )


@pytest.mark.parametrize("written", DIALECTS.values(), ids=DIALECTS.keys())
@pytest.mark.parametrize("chunk_bytes", [150, 1 << 20], ids=["small-chunks", "one-chunk"])
def test_the_output_is_what_the_api_echoes(tmp_path, model, client, written, chunk_bytes):
    body = spreadsheet_csv(table(accented(model, 50)), **written)
    (tmp_path / "in.csv").write_bytes(body)
    read = score_file(
        model, tmp_path / "in.csv", tmp_path / "out.csv", chunk_bytes=chunk_bytes, progress=False
    )
    assert read.scored == 50
    answer = echoed_by_the_api(client, body)
    assert answer.status_code == 200, answer.text
    assert (tmp_path / "out.csv").read_bytes() == answer.content


def test_a_european_file_comes_back_with_its_separator_bom_and_decimal_comma(tmp_path, model):
    rows = table(students(model, 3))
    (tmp_path / "in.csv").write_bytes(spreadsheet_csv(rows, **EXCEL_EUROPEAN))
    score_file(model, tmp_path / "in.csv", tmp_path / "out.csv", progress=False)
    text = (tmp_path / "out.csv").read_bytes().decode("utf-8")
    assert text.startswith("\ufeffid;gender;race/ethnicity;")
    out = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert out[0][-1] == "math_score"
    assert out[2][6] == f"{rows[2][6]:g}".replace(".", ",")  # a half, as the file wrote it
    assert all("," in r[-1] and "." not in r[-1] for r in out[1:])


def test_the_encoding_and_separator_read_are_said_on_stderr(tmp_path, model, store, capsys):
    (tmp_path / "in.csv").write_bytes(spreadsheet_csv(table(accented(model)), **EXCEL_WINDOWS))
    code = main([str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), "--quiet"])
    assert code == 0
    err = capsys.readouterr().err
    assert "as Windows-1252, separated by a comma" in err
    out = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert [r["id"] for r in csv.DictReader(io.StringIO(out))][:6] == ACCENTED_IDS


def test_bytes_no_encoding_reads_are_one_error_line_and_no_output(tmp_path, model, capsys):
    body = spreadsheet_csv(table(students(model))).replace(b"s3,", b"s\x813,")
    (tmp_path / "in.csv").write_bytes(body)
    assert main([str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {tmp_path / 'in.csv'}: the CSV file is neither UTF-8 nor Windows-1252 text "
        "(byte 0x81 on line 5): save it from the spreadsheet as CSV UTF-8"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_header_with_no_known_column_names_the_separator_seen(tmp_path, model, capsys):
    (tmp_path / "in.csv").write_bytes(spreadsheet_csv(table(students(model)), delimiter="|"))
    assert main([str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), "--quiet"]) == 1
    assert "it seems to be separated by '|'" in capsys.readouterr().err


def bad_row_files(model) -> dict[str, bytes]:
    """Files whose student s4 (row 6 when nothing spans lines) has lunch 'caviar'."""
    cohort = students(model, 8)
    cohort[4]["lunch"] = "caviar"
    quoted = [dict(s) for s in cohort]
    quoted[1]["id"] = "two\nlines"  # one spreadsheet row, two lines of text
    blank = spreadsheet_csv(table(cohort), **EXCEL_EUROPEAN).replace(b"\r\n", b"\r\n\r\n", 1)
    return {
        "plain": spreadsheet_csv(table(cohort)),
        "excel-european": spreadsheet_csv(table(cohort), **EXCEL_EUROPEAN),
        "quoted-line-break": spreadsheet_csv(table(quoted)),
        "blank-row": blank,  # a blank row after the header: s4 is row 7
    }


@pytest.mark.parametrize("name", ["plain", "excel-european", "quoted-line-break", "blank-row"])
@pytest.mark.parametrize("chunk_bytes", [150, 1 << 20], ids=["small-chunks", "one-chunk"])
def test_a_bad_row_has_the_same_number_in_http_and_score_file(
    tmp_path, model, client, name, chunk_bytes
):
    body = bad_row_files(model)[name]
    expected_row = 7 if name == "blank-row" else 6
    answer = client.simulate_post("/predictdata", body=body, headers={"Content-Type": "text/csv"})
    assert answer.status_code == 422
    assert [(d["row"], d["field"]) for d in answer.json["details"]] == [(expected_row, "lunch")]
    (tmp_path / "in.csv").write_bytes(body)
    with pytest.raises(ScoringStopped, match=rf"row {expected_row}, column lunch: 'caviar' is"):
        score_file(
            model, tmp_path / "in.csv", tmp_path / "out.csv", chunk_bytes=chunk_bytes,
            progress=False,
        )  # fmt: skip
    rejected = score_file(
        model, tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "rej.csv",
        chunk_bytes=chunk_bytes, progress=False,
    )  # fmt: skip
    assert (rejected.scored, rejected.rejected) == (7, 1)
    text = (tmp_path / "rej.csv").read_text(encoding="utf-8-sig")
    delimiter = ";" if name in ("excel-european", "blank-row") else ","
    (reject,) = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    assert (reject["row"], reject["field"], reject["id"], reject["lunch"]) == (
        str(expected_row), "lunch", "s4", "caviar",
    )  # fmt: skip


def test_rejects_without_ids_keep_the_output_in_line_with_the_input(tmp_path, model):
    cohort = students(model, 10)
    for i in (2, 7):
        cohort[i]["gender"] = "x"
    rows = [row[1:] for row in table(cohort)]  # no id column
    (tmp_path / "in.csv").write_bytes(spreadsheet_csv(rows))
    for echo in (True, False):
        read = score_file(
            model, tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "rej.csv",
            progress=False, echo=echo,
        )  # fmt: skip
        assert (read.scored, read.rejected) == (8, 2)
        out = list(csv.DictReader(open(tmp_path / "out.csv", newline="")))
        assert len(out) == 10
        scores = [r["math_score"] for r in out]
        assert [i for i, s in enumerate(scores) if not s] == [2, 7]
        if echo:
            assert [r["gender"] for r in out] == [s["gender"] for s in cohort]
        else:
            assert [r["row"] for r in out] == [str(n) for n in range(2, 12)]


def test_scores_only_writes_the_id_and_the_score(tmp_path, model):
    (tmp_path / "in.csv").write_bytes(spreadsheet_csv(table(students(model, 3)), **EXCEL_EUROPEAN))
    score_file(model, tmp_path / "in.csv", tmp_path / "out.csv", progress=False, echo=False)
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "id,math_score"
    assert [line.split(",")[0] for line in lines[1:]] == ["s0", "s1", "s2"]


def test_worker_processes_write_what_one_process_writes(tmp_path, model, store):
    cohort = students(model, 400)
    cohort[7]["id"] = "two\nlines"
    cohort[300]["gender"] = "x"
    (tmp_path / "in.csv").write_bytes(spreadsheet_csv(table(cohort), **EXCEL_EUROPEAN))
    outputs = []
    for jobs in (1, 2):
        read = score_file(
            model, tmp_path / "in.csv", tmp_path / f"out{jobs}.csv", tmp_path / f"rej{jobs}.csv",
            chunk_bytes=1000, progress=False, jobs=jobs,
            load_model=lambda: load_verified_model(store, model.version, threads=1),
        )  # fmt: skip
        assert (read.scored, read.rejected) == (399, 1)
        outputs.append([(tmp_path / f"{n}{jobs}.csv").read_bytes() for n in ("out", "rej")])
    assert outputs[0] == outputs[1]
    with pytest.raises(ScoringStopped, match=r"row 302, column gender: 'x' is not an allowed"):
        score_file(
            model, tmp_path / "in.csv", tmp_path / "out.csv", chunk_bytes=1000, progress=False,
            jobs=2, load_model=lambda: load_verified_model(store, model.version, threads=1),
        )  # fmt: skip
    assert not (tmp_path / "out.csv").exists()


def test_the_output_may_be_named_with_o(tmp_path, model, store, monkeypatch):
    monkeypatch.setenv("MODEL_STORE_DIR", str(store.root))
    (tmp_path / "in.csv").write_bytes(spreadsheet_csv(table(students(model, 3))))
    assert main([str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"), "--quiet"]) == 0
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 4
