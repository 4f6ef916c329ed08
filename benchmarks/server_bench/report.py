"""The benchmark's table: every figure beside the floor measured in the same run.

A shared or noisy machine slows a cell and its floor alike, so the ratio moves
far less than the figure; targets are judged on ratios where one is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

COLUMNS = ("Cell", "Measure", "Value", "Floor (same run)", "Ratio", "Target", "Result")


@dataclass(frozen=True)
class Target:
    text: str
    met: Callable[[float, float], bool]  # (value, ratio) -> met?


@dataclass(frozen=True)
class Row:
    cell: str
    measure: str
    value: float
    value_text: str
    floor_text: str
    ratio: float
    target: Target | None = None

    @property
    def result(self) -> str:
        if self.target is None:
            return "-"
        return "PASS" if self.target.met(self.value, self.ratio) else "MISS"

    def cells(self) -> tuple[str, ...]:
        target = self.target.text if self.target else "-"
        ratio = f"{self.ratio:#.3g}"
        return (
            self.cell, self.measure, self.value_text, self.floor_text, ratio, target, self.result
        )  # fmt: skip


def markdown(rows: list[Row], notes: list[str] = ()) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def row_record(row: Row) -> dict:
    record = asdict(row)
    record["target"] = row.target.text if row.target else None
    record["result"] = row.result
    return record


def write_report(folder: Path, table: str, rows: list[Row], details: dict) -> Path:
    """table.md and report.json (rows, raw wrk output, settings) under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "table.md").write_text(table)
    report = {"table": table, "rows": [row_record(r) for r in rows], **details}
    path = folder / "report.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    return path
