"""What the load tests send and how they judge the answers.

Random students drawn from the served model's schema; an oracle that runs a
version's ONNX bytes with onnxruntime in the test process; and a second,
genuinely different version (the committed graph with its output shifted) so
a test can tell from the numbers which version computed an answer.
"""

from __future__ import annotations

import csv
import io
import json
import random

import numpy as np
import onnx
from onnx import helper, numpy_helper

from model_store.onnx_io import build_feeds, open_session, predict, records_to_columns
from model_store.schema import CATEGORICAL, features
from model_store.store import ModelStore
from tests.support.traffic import Answer, Call, post_head

# The server rounds to hundredths: its score is within half a hundredth of onnxruntime's.
ROUNDING = 0.005 + 1e-9


def random_student(rng: random.Random, metadata: dict) -> dict:
    student = {}
    for feature in features(metadata):
        if feature["kind"] == CATEGORICAL:
            student[feature["name"]] = rng.choice(feature["categories"])
        else:  # whole and fractional scores, both ends of the range included
            low, high = feature["minimum"], feature["maximum"]
            student[feature["name"]] = rng.choice(
                [rng.randint(int(low), int(high)), round(rng.uniform(low, high), 2), low, high]
            )
    return student


def to_csv(students: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(students[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(students)
    return out.getvalue().encode()


class Oracle:
    """A version's raw (unrounded) scores, computed with onnxruntime in the test process."""

    def __init__(self, store: ModelStore, version: str) -> None:
        stored = store.load(version)
        self.version = version
        self.metadata = stored.metadata
        self._session = open_session(stored.onnx_bytes)

    def scores(self, students: list[dict]) -> np.ndarray:
        columns = records_to_columns(self.metadata, students)
        return predict(self._session, build_feeds(self.metadata, columns))


def json_call(name: str, payload, expected=None) -> Call:
    body = json.dumps(payload).encode()
    return Call(name, post_head(len(body), "application/json"), body, expected)


def csv_call(name: str, students: list[dict], expected=None) -> Call:
    body = to_csv(students)
    return Call(name, post_head(len(body), "text/csv"), body, expected)


def served_scores(answer: Answer) -> tuple[str, list[float]]:
    """(the version the answer names, its scores in order) for a 200 answer, JSON or CSV.

    A JSON answer names its version twice (header and body); they must agree.
    Raises ValueError or KeyError for an answer not shaped as the API says.
    """
    version = answer.headers["x-model-version"]
    if answer.headers.get("content-type", "").startswith("text/csv"):
        rows = list(csv.DictReader(io.StringIO(answer.body.decode())))
        return version, [float(r["math_score"]) for r in rows]
    body = answer.json()
    if body["model_version"] != version:
        raise ValueError(f"labelled {version} in its header, {body['model_version']} in its body")
    if "predictions" not in body:
        return version, [body["math_score"]]
    if body["count"] != len(body["predictions"]):
        raise ValueError(f"count {body['count']} for {len(body['predictions'])} predictions")
    return version, [p["math_score"] for p in body["predictions"]]


def answer_ids(answer: Answer) -> list:
    return [p.get("id") for p in answer.json()["predictions"]]


def scores_match(served: list[float], expected: np.ndarray) -> bool:
    return len(served) == len(expected) and bool(
        np.all(np.abs(np.asarray(served) - expected) <= ROUNDING)
    )


def shifted_graph(onnx_bytes: bytes, points: float) -> bytes:
    """The same graph with `points` added to its output: a genuinely different model."""
    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    output = graph.output[0].name
    unshifted = output + "_unshifted"
    for node in graph.node:
        node.output[:] = [unshifted if name == output else name for name in node.output]
    graph.initializer.append(
        numpy_helper.from_array(np.array(points, dtype=np.float32), name="shift_points")
    )
    graph.node.append(helper.make_node("Add", [unshifted, "shift_points"], [output]))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def shifted_version(
    store: ModelStore, points: float, base: str | None = None
) -> tuple[bytes, dict]:
    """Version `base`'s graph (by default the current one's) shifted by `points`, with
    metadata whose parity sample is recomputed so that the store's verification accepts it."""
    current = store.load(base)
    onnx_bytes = shifted_graph(current.onnx_bytes, points)
    metadata = json.loads(json.dumps(current.metadata))
    sample = metadata["parity_sample"]
    session = open_session(onnx_bytes)
    columns = records_to_columns(metadata, sample["records"])
    sample["expected"] = predict(session, build_feeds(metadata, columns)).tolist()
    metadata["estimator"] = {**metadata["estimator"], "note": f"output shifted by {points}"}
    return onnx_bytes, metadata


def publish_shifted(store: ModelStore, points: float) -> str:
    """Publish (not promote) the current version's graph shifted by `points`."""
    return store.publish(*shifted_version(store, points), promote=False)


class Workload:
    """A fixed pool of calls, drawn at random by the client threads: single students,
    bulk JSON (with ids) and CSV, and optionally invalid requests.

    A valid call's `expected` is its students; an invalid one's, its status.
    Expected scores are computed up front for every version the test may see, so
    judging an answer costs a comparison, not an inference.
    """

    def __init__(
        self, oracles: list[Oracle], *, seed: int = 0, bulk_rows: int = 50, invalid: bool = True
    ) -> None:
        rng = random.Random(seed)
        metadata = oracles[0].metadata
        calls = []
        for i in range(40):
            student = random_student(rng, metadata)
            calls.append(json_call(f"single-{i}", student, [student]))
        for i in range(15):
            students = [random_student(rng, metadata) for _ in range(bulk_rows)]
            if i % 3:
                with_ids = [{**s, "id": n} for n, s in enumerate(students)]
                calls.append(json_call(f"bulk-json-{i}", with_ids, students))
            else:
                calls.append(csv_call(f"bulk-csv-{i}", students, students))
        self._expected = {
            (call.name, oracle.version): oracle.scores(call.expected)
            for call in calls
            for oracle in oracles
        }
        if invalid:
            bad_bulk = [random_student(rng, metadata) for _ in range(bulk_rows)]
            bad_bulk[-1]["reading_score"] = 101
            calls += [
                json_call("invalid-category", {**random_student(rng, metadata), "lunch": "?"}, 422),
                json_call("invalid-bulk", bad_bulk, 422),
                raw_call("invalid-json", b'{"gender": ', "application/json", 400),
                raw_call("invalid-media-type", b"a=1", "application/x-www-form-urlencoded", 415),
            ]
        self.calls = calls

    def next_call(self, rng: random.Random) -> Call:
        return rng.choice(self.calls)

    def judge(self, call: Call, answer: Answer) -> str | None:
        """None if the answer is right for the call, else what is wrong with it."""
        if answer.failure:
            return f"{call.name}: {answer.failure}"
        if isinstance(call.expected, int):
            if answer.status != call.expected or b'"error"' not in answer.body:
                return f"{call.name}: status {answer.status}, expected {call.expected}"
            return None
        if answer.status != 200:
            return f"{call.name}: status {answer.status}: {answer.body[:200]!r}"
        try:
            version, scores = served_scores(answer)
        except (ValueError, KeyError) as exc:
            return f"{call.name}: malformed answer: {exc!r}"
        expected = self._expected.get((call.name, version))
        if expected is None:
            return f"{call.name}: answered by unknown version {version}"
        if not scores_match(scores, expected):
            return f"{call.name}: scores differ from those of {version}, which it names"
        if call.name.startswith("bulk-json") and answer_ids(answer) != list(range(len(expected))):
            return f"{call.name}: ids not echoed in request order"
        return None

    @staticmethod
    def rows(call: Call) -> int:
        """Students scored by a valid call; 0 for an invalid one."""
        return 0 if isinstance(call.expected, int) else len(call.expected)


def raw_call(name: str, body: bytes, content_type: str, expected: int) -> Call:
    return Call(name, post_head(len(body), content_type), body, expected)
