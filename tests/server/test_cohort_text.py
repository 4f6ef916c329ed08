"""A cohort's JSON answer, looked up as text per score (server/json_output.py), is
byte for byte what msgspec writes from the answer Structs, the path it replaces."""

from __future__ import annotations

import json
import random

import msgspec
import numpy as np
import pytest

from model_store.contract import CategoricalFeature
from server.json_input import JsonParser
from server.json_output import CohortText
from server.model import ServedModel

LEVELS = [None, 80, 90, 95]
IDS = {
    "none": lambda n: None,
    "text": lambda n: [f's-{i} "é\\\n{chr(0x1F600)}' for i in range(n)],
    "numbers": lambda n: [(-1) ** i * (2**62 + i) for i in range(n)],
    "some missing": lambda n: [None if i % 3 else f"s{i}" for i in range(n)],
}


def cohort(model: ServedModel, size: int, seed: int) -> list[dict]:
    """Students over every category, with scores from 0 to 100 (so answers reach the clips)."""
    rng = random.Random(seed)
    students = []
    for _ in range(size):
        student = {}
        for feature in model.contract.model.features:
            if isinstance(feature, CategoricalFeature):
                student[feature.name] = rng.choice(feature.categories)
            else:
                student[feature.name] = rng.choice([0, 100, round(rng.uniform(0, 100), 2)])
        students.append(student)
    return students


def answers(model: ServedModel, body: bytes, level: int | None) -> tuple[bytes, bytes]:
    """(looked up, from Structs) for the same request."""
    batch = JsonParser(model.contract, 100_000).parse(body)
    options = model.contract.options.parse({"interval": level} if level else {})
    scored = model.predict(batch.columns, options)
    assert scored.cents is not None  # more than a few students: the lookup applies
    looked_up = model.contract.answer(model.version, scored, batch)
    from_structs = model.contract.answer(
        model.version, msgspec.structs.replace(scored, cents=None), batch
    )
    encode = msgspec.json.encode
    return encode(looked_up), encode(from_structs)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("ids", list(IDS))
def test_the_looked_up_answer_is_the_structs_answer(model, level, ids):
    students = cohort(model, 300, seed=LEVELS.index(level))
    sent = IDS[ids](len(students))
    if sent is not None:
        students = [s if i is None else {"id": i, **s} for s, i in zip(students, sent, strict=True)]
    looked_up, from_structs = answers(model, json.dumps(students).encode(), level)
    assert looked_up == from_structs
    predictions = json.loads(looked_up)["predictions"]
    assert len(predictions) == len(students)
    assert {p["math_score"] for p in predictions} & {0.0, 100.0}  # the clipped ends covered


def test_every_score_on_the_table_reads_back_as_itself(model):
    # The table is made from the Structs too: check its texts, not just that two paths agree.
    text = model.contract.cohort_text
    cents = np.arange(0, 10_001)
    predictions = json.loads(bytes(text.predictions(cents, None, 90)))
    half_width = model.contract.options.half_widths[90]
    for cent, answer in zip(cents.tolist(), predictions, strict=True):
        assert answer["math_score"] == cent / 100
        assert answer["math_score_lower"] == round(max(cent / 100 - half_width, 0) * 100) / 100
        assert answer["math_score_upper"] == round(min(cent / 100 + half_width, 100) * 100) / 100
        assert answer["interval_level"] == 90


def test_a_score_off_the_table_falls_back_to_the_structs(model):
    assert model.contract.cohort_text.predictions(np.array([-1.0, 50.0]), None, None) is None
    assert model.contract.cohort_text.predictions(np.array([10_001.0]), None, 90) is None


def test_a_target_too_wide_to_tabulate_keeps_the_structs(model):
    wide = CohortText(model.contract.prediction, 0.0, 1e6, {90: 5.0})
    assert wide.predictions(np.array([0.0, 50_000.0]), None, None) is None
    assert wide.predictions(np.array([0.0, 50_000.0]), ["a", "b"], 90) is None
