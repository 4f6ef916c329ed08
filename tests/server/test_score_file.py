"""python -m server.score_file: streaming a CSV file through the served model."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from server.score_file import ScoringStopped, score_file
from tests.support.models import REPO

SPACED = [
    "gender", "race/ethnicity", "parental level of education", "lunch",
    "test preparation course", "reading score", "writing score",
]  # fmt: skip


def write_students(path, model, copies: int = 1, bad: dict[int, tuple[str, str]] = ()) -> None:
    """The metadata's parity records, `copies` times, with ids; `bad` replaces cells."""
    records = model.metadata["parity_sample"]["records"]
    names = list(model.contract.model.feature_names)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", *SPACED])
        for i in range(copies * len(records)):
            row = {name: records[i % len(records)][name] for name in names}
            if i in dict(bad):
                field, value = dict(bad)[i]
                row[field] = value
            writer.writerow([f"s{i}", *(row[n] for n in names)])


def test_scores_every_row_in_order_across_chunks(tmp_path, model):
    write_students(tmp_path / "in.csv", model, copies=5)
    read = score_file(
        model, tmp_path / "in.csv", tmp_path / "out.csv", chunk_bytes=200, progress=False
    )
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    expected = model.metadata["parity_sample"]["expected"] * 5
    assert (read.scored, read.rejected) == (len(expected), 0)
    assert [r["id"] for r in rows] == [f"s{i}" for i in range(len(expected))]
    np.testing.assert_allclose([float(r["math_score"]) for r in rows], expected, atol=0.005)


def test_a_bad_row_stops_the_run_naming_its_row_and_leaves_no_output(tmp_path, model):
    write_students(tmp_path / "in.csv", model, bad={4: ("lunch", "caviar")})
    with pytest.raises(ScoringStopped, match=r"row 6, column lunch: 'caviar' is not an allowed"):
        score_file(model, tmp_path / "in.csv", tmp_path / "out.csv", progress=False)
    assert list(tmp_path.iterdir()) == [tmp_path / "in.csv"]


def test_with_rejects_bad_rows_are_set_aside_and_the_rest_scored(tmp_path, model):
    write_students(
        tmp_path / "in.csv", model, bad={2: ("reading_score", "abc"), 9: ("gender", "x")}
    )
    read = score_file(
        model, tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "rej.csv", progress=False
    )
    rejects = list(csv.DictReader(open(tmp_path / "rej.csv")))
    assert (read.scored, read.rejected) == (18, 2)
    assert [(r["row"], r["field"], r["id"]) for r in rejects] == [
        ("4", "reading_score", "s2"),
        ("11", "gender", "s9"),
    ]
    out = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert [r["id"] for r in out] == [f"s{i}" for i in range(20)]  # row for row
    assert [r["math_score"] for r in out][2] == out[9]["math_score"] == ""


def test_a_missing_column_is_refused_before_scoring(tmp_path, model):
    (tmp_path / "in.csv").write_text("gender,lunch\nfemale,standard\n")
    with pytest.raises(Exception, match="lacks column"):
        score_file(model, tmp_path / "in.csv", tmp_path / "out.csv", progress=False)
    assert not (tmp_path / "out.csv").exists()


def test_a_large_file_streams_in_bounded_memory(tmp_path, model, store):
    write_students(tmp_path / "in.csv", model, copies=10_000)  # 200,000 rows
    env_store = {"MODEL_STORE_DIR": str(store.root)}
    # Measured from a small Python of its own: a child's peak RSS starts from its
    # parent's at the fork, which here would be this test session's.
    measure = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    files = ["--quiet", str(tmp_path / "in.csv"), str(tmp_path / "out.csv")]
    done = subprocess.run(
        [sys.executable, "-c", measure, sys.executable, "-m", "server.score_file", *files],
        cwd=REPO, env={**os.environ, **env_store}, check=True, timeout=120, capture_output=True,
        text=True,
    )  # fmt: skip
    peak_mib = int(done.stdout) / 1024
    with open(tmp_path / "out.csv") as f:
        assert sum(1 for _ in f) == 200_001
    assert peak_mib < 150, f"peak RSS {peak_mib:.0f} MiB"


def test_score_file_loads_no_web_framework():
    """Falcon is a fifth of score_file's start-up: the parsers it shares with the
    server raise errors and read query options without it."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, server.score_file; print('falcon' in sys.modules)"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False"


def test_without_quiet_a_progress_bar_with_its_eta_goes_to_stderr(tmp_path, model, store):
    write_students(tmp_path / "in.csv", model, copies=100)
    files = [str(tmp_path / "in.csv"), str(tmp_path / "out.csv")]
    command = [sys.executable, "-m", "server.score_file", *files]
    env = {**os.environ, "MODEL_STORE_DIR": str(store.root)}
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    bar = done.stderr.replace("\r", "\n").splitlines()
    assert any("100%" in line and "<00:00" in line for line in bar), done.stderr[-500:]
    assert "100%" not in done.stdout  # the bar never mixes with what scripts read
