"""The in-process benchmark at tiny batch sizes: it trains, exports, times both engines
and writes its table and chart. No speed is asserted."""

from __future__ import annotations

import json

import pytest

from benchmarks.inprocess_bench import main, table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    return main(["--batch-sizes", "1,10", "--min-time", "0.01", "--reports-dir", str(reports)])


def test_a_tiny_run_writes_the_chart_and_the_table(report):
    assert report.name.startswith("inprocess-")
    assert (report / "speedup.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "| 10 |" in (report / "table.md").read_text()


def test_both_engines_predict_the_same_scores(report):
    results = json.loads((report / "results.json").read_text())
    assert [r["batch_size"] for r in results] == [1, 10]
    # ONNX computes in float32, scikit-learn in float64.
    assert all(r["max_abs_diff"] < 1e-3 for r in results)


def test_the_table_gives_rows_per_second_and_the_speedup():
    text = table([{"batch_size": 1_000, "sklearn_ms": 10.0, "onnx_ms": 2.0, "max_abs_diff": 1e-6}])
    assert "| 1,000 | 10.000 | 2.000 | 100,000 | 500,000 | 5.0× | 1.0e-06 |" in text
