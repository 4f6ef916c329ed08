"""Smoke run of benchmarks/metrics_cost.py: it measures and prints its table (no speed asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_prints_the_request_cost_and_the_metrics_share():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.metrics_cost"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    share = re.search(
        r"\| metric updates \(multiprocess mode\) \| [\d.]+ \| ([\d.]+) % \|", result.stdout
    )
    assert share, result.stdout
    assert 0 < float(share.group(1)) < 100
