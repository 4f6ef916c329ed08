"""Drift test data: a generated population, its `drift_reference` as export writes it,
and the committed model served with or without one."""

from __future__ import annotations

import numpy as np

from model_store.schema import CATEGORICAL, features
from server.contract import ServingContract
from server.model import ServedModel

DECILES = np.linspace(0.1, 0.9, 9)
TRAINING_ROWS = 800  # as many as the committed model's training split


def build_reference(metadata: dict, columns: dict) -> dict:
    """A `drift_reference` as publish records it (COMMON.md's format), from columns."""
    rows = len(next(iter(columns.values())))
    fields = {}
    for feature in features(metadata):
        values = np.asarray(columns[feature["name"]])
        if feature["kind"] == CATEGORICAL:
            shares = {c: float((values == c).mean()) for c in feature["categories"]}
            fields[feature["name"]] = {"kind": CATEGORICAL, "shares": shares}
        else:
            edges = np.unique(np.quantile(values.astype(float), DECILES))
            bins = np.searchsorted(edges, values, side="right")
            bins = np.bincount(bins, minlength=len(edges) + 1)
            fields[feature["name"]] = {
                "kind": "numeric",
                "edges": edges.tolist(),
                "shares": (bins / rows).tolist(),
            }
    return {"rows": rows, "fields": fields}


def category_shares(feature: dict) -> np.ndarray:
    """A fixed, uneven population share per category: 1 : 2 : ... : k."""
    weights = np.arange(1, len(feature["categories"]) + 1, dtype=float)
    return weights / weights.sum()


def draw_students(
    metadata: dict,
    rows: int,
    seed: int,
    *,
    tripled: tuple[str, str] | None = None,
    shift: tuple[str, float] | None = None,
) -> dict[str, list]:
    """Columns of a generated population: categories at `category_shares`, scores
    normal around 68 (sd 15) and correlated, as the parsers hand them over (the
    schema's str objects, float scores). `tripled` = (field, value) triples that
    value's share; `shift` = (field, points) moves that score."""
    rng = np.random.default_rng(seed)
    columns: dict[str, list] = {}
    for feature in features(metadata):
        if feature["kind"] != CATEGORICAL:
            continue
        categories = feature["categories"]
        shares = category_shares(feature)
        if tripled and tripled[0] == feature["name"]:
            hit = categories.index(tripled[1])
            assert 3 * shares[hit] < 1, f"{tripled[1]!r} is too common to triple"
            rest = (1 - 3 * shares[hit]) / (1 - shares[hit])
            shares = shares * rest
            shares[hit] = 3 * category_shares(feature)[hit]
        picks = rng.choice(len(categories), size=rows, p=shares)
        columns[feature["name"]] = [categories[i] for i in picks]
    ability = rng.normal(68, 15, rows)
    for feature in features(metadata):
        if feature["kind"] == CATEGORICAL:
            continue
        scores = ability + rng.normal(0, 5, rows)
        if shift and shift[0] == feature["name"]:
            scores = scores + shift[1]
        clipped = np.clip(np.rint(scores), feature["minimum"], feature["maximum"])
        columns[feature["name"]] = clipped.tolist()
    return columns


def with_metadata(model, metadata: dict) -> ServedModel:
    return ServedModel(
        model.version, metadata, model.session, ServingContract.from_metadata(metadata)
    )


def with_reference(model) -> ServedModel:
    """The model with a reference drawn from `draw_students`' population."""
    training = draw_students(model.metadata, TRAINING_ROWS, seed=0)
    reference = build_reference(model.metadata, training)
    return with_metadata(model, {**model.metadata, "drift_reference": reference})


def without_reference(model) -> ServedModel:
    """The model as published before drift reports."""
    metadata = {k: v for k, v in model.metadata.items() if k != "drift_reference"}
    return with_metadata(model, metadata)


def as_records(columns: dict) -> list[dict]:
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


def as_csv(columns: dict) -> str:
    lines = [",".join(columns)]
    lines += [",".join(map(str, values)) for values in zip(*columns.values(), strict=True)]
    return "\n".join(lines) + "\n"
