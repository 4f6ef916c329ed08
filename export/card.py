"""The model card: one self-contained HTML page per version, written into it at publish.

Everything comes from the version's metadata, except the predicted-vs-actual plot, which
needs the holdout's scores. Plots are inline PNGs (matplotlib's Agg canvas, no display and no
global pyplot state), so the page needs no other file and no network.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

SECTIONS = {
    "intended-use": "Intended use and limits",
    "data": "The data",
    "leaderboard": "Leaderboard",
    "metrics": "Holdout metrics",
    "predicted-vs-actual": "Predicted vs actual",
    "residuals-by-group": "Error by group",
    "intervals": "Prediction intervals",
}
STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
       color: #1d1d1f; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid
#ddd; } table { border-collapse: collapse; margin: 0.6em 0; } th, td { padding: 0.2em 0.7em;
border-bottom: 1px solid #eee; text-align: left; } td.n { text-align: right;
font-variant-numeric: tabular-nums; } .muted { color: #666; } img { max-width: 100%; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _png(figure: Figure) -> str:
    """The figure as an <img> with its PNG inline."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{cell:.3f}</td>'
            if isinstance(cell, float)
            else f'<td class="n">{cell}</td>'
            if isinstance(cell, int)
            else f"<td>{_e(cell)}</td>"
            for cell in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(key: str, body: str) -> str:
    return f'<section id="{key}"><h2>{_e(SECTIONS[key])}</h2>{body}</section>'


def _intended_use(metadata: dict) -> str:
    features = ", ".join(f"<code>{_e(f['name'])}</code>" for f in metadata["schema"]["features"])
    excluded = metadata.get("excluded_features") or []
    left_out = (
        f"<p>Trained without {', '.join(f'<code>{_e(n)}</code>' for n in excluded)}: this "
        "model never sees them, and does not ask for them.</p>"
        if excluded
        else ""
    )
    source = metadata["training_data"]["source"]
    synthetic = "synthetic" in source
    return _section(
        "intended-use",
        f"<p>Predicts a student's math score (0–100) from {features}. Use it to see which "
        "students may need support in math, alongside a teacher's judgement; each score is an "
        "estimate with the typical error shown below, not a measurement.</p>"
        "<ul><li>Do not use it to grade, place or sanction an individual student.</li>"
        "<li>It only knows the categories it was trained on; it has seen no student outside "
        "their range.</li>"
        "<li>Its error differs between groups of students: read the error-by-group section "
        "before relying on it for any one group.</li>"
        + (
            "<li>It was trained on a <strong>synthetic</strong> sample that imitates the "
            "public students data set: retrain it on your own students before real use.</li>"
            if synthetic
            else ""
        )
        + f"</ul>{left_out}",
    )


def category_counts(metadata: dict) -> dict[str, dict[str, int]]:
    """Rows per value of each categorical field in the whole training file (train + holdout)."""
    groups = metadata["group_errors"]
    counts: dict[str, dict[str, int]] = {}
    for split in ("out_of_fold", "holdout"):
        for field, values in groups[split].items():
            if field == "math_score_band":
                continue
            for value, row in values.items():
                counts.setdefault(field, {}).setdefault(value, 0)
                counts[field][value] += row["count"]
    return counts


def _data(metadata: dict) -> str:
    data = metadata["training_data"]
    rows = [
        (field, value, count)
        for field, values in category_counts(metadata).items()
        for value, count in sorted(values.items())
    ]
    return _section(
        "data",
        f"<p>{data['rows']} students from {_e(data['source'])} "
        f"({data['train_rows']} for training and model selection, {data['holdout_rows']} held "
        f"out); source file SHA-256 <code>{_e(data['sha256'])}</code>"
        + (
            f"; {data['dropped_incomplete_rows']} incomplete rows dropped"
            if data.get("dropped_incomplete_rows")
            else ""
        )
        + ".</p>"
        + _table(("field", "value", "students"), rows),
    )


def _leaderboard(metadata: dict) -> str:
    rows = [
        (
            rank,
            row["name"],
            row["cv_r2_mean"],
            row["cv_r2_std"],
            row["cv_mae_mean"],
            ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "—",
        )
        for rank, row in enumerate(metadata["leaderboard"], 1)
    ]
    return _section(
        "leaderboard",
        "<p>Every candidate, by cross-validated R² on the training split; the first is served."
        "</p>" + _table(("rank", "candidate", "CV R²", "± sd", "CV MAE", "parameters"), rows),
    )


def _metrics(metadata: dict) -> str:
    metrics = metadata["metrics"]
    estimator = metadata["estimator"]
    body = (
        f"<p>{_e(estimator['name'])} "
        f"({_e(', '.join(f'{k}={v}' for k, v in estimator['params'].items()) or 'defaults')}), "
        "judged once on students it never saw.</p>"
        + _table(
            ("measure", "value"),
            [
                ("R²", metrics["holdout_r2"]),
                ("mean absolute error (points)", metrics["holdout_mae"]),
                ("root mean squared error (points)", metrics["holdout_rmse"]),
                ("cross-validated R² (training split)", metrics["cv_r2_mean"]),
            ],
        )
    )
    cost = metadata.get("exclusion_cost")
    if cost:
        every, without = cost["with_every_feature"], cost["without"]
        body += "<h3>What leaving fields out costs</h3>" + _table(
            ("", "holdout MAE", "holdout R²"),
            [
                (
                    f"without them ({without['estimator']})",
                    without["holdout_mae"],
                    without["holdout_r2"],
                ),
                (
                    f"with every feature ({every['estimator']})",
                    every["holdout_mae"],
                    every["holdout_r2"],
                ),
            ],
        )
    return _section("metrics", body)


def _predicted_vs_actual(actual: Sequence[float], predicted: Sequence[float]) -> str:
    figure = Figure(figsize=(5.5, 5.5))
    axes = figure.add_subplot()
    axes.scatter(actual, predicted, s=12, alpha=0.6)
    axes.plot([0, 100], [0, 100], color="grey", linewidth=1)
    axes.set(xlim=(0, 100), ylim=(0, 100), xlabel="actual math score", ylabel="predicted")
    axes.set_title(f"{len(actual)} holdout students")
    return _section(
        "predicted-vs-actual",
        "<p>Each dot is a holdout student; on the grey line the prediction is exact.</p>"
        + _png(figure),
    )


def _residuals_by_group(metadata: dict) -> str:
    holdout = metadata["group_errors"]["holdout"]
    out_of_fold = metadata["group_errors"]["out_of_fold"]
    figure = Figure(figsize=(9, 1.6 * len(holdout)))
    # One scale for every field, so groups compare across fields at a glance.
    for axes, (field, values) in zip(
        figure.subplots(len(holdout), 1, sharex=True), holdout.items(), strict=True
    ):
        names = list(values)
        axes.barh(names, [values[n]["bias"] for n in names], color="#4c78a8", label="bias")
        axes.plot([values[n]["mae"] for n in names], names, "o", color="#e45756", label="MAE")
        axes.axvline(0, color="grey", linewidth=1)
        axes.set_title(field, loc="left", fontsize=10)
        axes.invert_yaxis()
    figure.axes[0].legend(loc="lower right", fontsize=8)
    figure.axes[-1].set_xlabel("math points on the holdout (bias = prediction − actual)")
    figure.tight_layout()
    rows = [
        (
            field,
            value,
            row["count"],
            row["mae"],
            row["bias"],
            out_of_fold.get(field, {}).get(value, {}).get("count", 0),
            out_of_fold.get(field, {}).get(value, {}).get("mae", float("nan")),
            out_of_fold.get(field, {}).get(value, {}).get("bias", float("nan")),
        )
        for field, values in holdout.items()
        for value, row in values.items()
    ]
    return _section(
        "residuals-by-group",
        "<p>Mean absolute error and bias (mean of prediction − actual: above 0, the model "
        "over-predicts that group) for every value of every field and for bands of the actual "
        "score, on the holdout and out of fold (each training student predicted by a model "
        "fitted without their fold).</p>"
        + _png(figure)
        + _table(
            ("field", "value", "holdout n", "MAE", "bias", "out-of-fold n", "MAE", "bias"), rows
        ),
    )


def _intervals(metadata: dict) -> str:
    intervals = metadata.get("intervals")
    if not intervals:
        return _section(
            "intervals", '<p class="muted">This version records no prediction intervals.</p>'
        )
    levels = sorted(intervals["half_widths"], key=float)
    rows = [
        (
            f"{level}%",
            float(intervals["half_widths"][level]),
            float(intervals["holdout_coverage"][level]),
        )
        for level in levels
    ]
    return _section(
        "intervals",
        f"<p>{_e(intervals['method'])}. An answer at level L is the score ± the half-width, "
        f"clipped to 0–100; coverage is the share of the {intervals['holdout_rows']} holdout "
        "students whose actual score fell inside.</p>"
        + _table(("level", "half-width (points)", "holdout coverage"), rows),
    )


def render_card(metadata: dict, actual: Sequence[float], predicted: Sequence[float]) -> bytes:
    """The card for a version with this (store-completed) metadata, as UTF-8 HTML."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    version = metadata.get("version", "unpublished")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Model card: {_e(version)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Model card: math score predictor</h1><p class='muted'>version "
        f"<code>{_e(version)}</code>, published {_e(metadata.get('created_at', '—'))}</p>",
        _intended_use(metadata),
        _data(metadata),
        _leaderboard(metadata),
        _metrics(metadata),
        _predicted_vs_actual(actual, predicted),
        _residuals_by_group(metadata),
        _intervals(metadata),
        "</body></html>",
    ]
    return ("\n".join(parts) + "\n").encode("utf-8")
