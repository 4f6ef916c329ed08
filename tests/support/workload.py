"""What the load tests send and how they judge the answers.

Students from the benchmarks' generator, answers judged by the benchmarks' checker
(benchmarks/students.py, benchmarks/answers.py); an oracle that runs a version's
ONNX bytes with onnxruntime in the test process; and a second, genuinely different
version (the committed graph with its output shifted) so a test can tell from the
numbers which version computed an answer.
"""

from __future__ import annotations

import json
import random

import numpy as np
import onnx
from onnx import helper, numpy_helper

from benchmarks import answers, students
from benchmarks.answers import ROUNDING, Expected
from model_store.contract import ModelContract
from model_store.onnx_io import build_feeds, open_session, predict, records_to_columns
from model_store.schema import features
from model_store.store import ModelStore
from tests.support.traffic import Answer, Call, post_head


def random_student(rng: random.Random, metadata: dict) -> dict:
    return students.draw(rng, features(metadata))


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


def call(name: str, body: bytes, content_type: str, expected: Expected) -> Call:
    return Call(name, post_head(len(body), content_type), body, expected)


def expect(oracles: list[Oracle], sent: list[dict], **kind) -> Expected:
    """The answer every oracle's version would give to `sent`."""
    versions = {oracle.version: oracle.scores(sent).tolist() for oracle in oracles}
    return Expected(
        ModelContract.from_metadata(oracles[0].metadata).target.name, versions, len(sent), **kind
    )


def judge(call: Call, answer: Answer) -> str | None:
    """None if the answer is right for the call, else what is wrong with it."""
    problem = answer.failure or answers.problem(
        call.expected, answer.status, answer.headers.get("content-type"), answer.body,
        answer.headers.get("x-model-version") if answer.status == 200 else None,
    )  # fmt: skip
    return problem and f"{call.name}: {problem}"


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
    bulk JSON (with ids) and CSV, and optionally invalid requests. Every call carries
    its Expected answer for every version the test may see, computed up front, so
    judging an answer costs a comparison, not an inference."""

    def __init__(
        self, oracles: list[Oracle], *, seed: int = 0, bulk_rows: int = 50, invalid: bool = True
    ) -> None:
        rng = random.Random(seed)
        metadata = oracles[0].metadata

        def draw(count: int) -> list[dict]:
            return [random_student(rng, metadata) for _ in range(count)]

        calls = []
        for i in range(40):
            (student,) = draw(1)
            body = students.json_body(student)
            calls.append(call(f"single-{i}", body, answers.MEDIA_JSON, expect(oracles, [student])))
        for i in range(15):
            cohort = draw(bulk_rows)
            if i % 3:
                ids = list(range(bulk_rows))
                expected = expect(oracles, cohort, cohort=True, ids=ids)
                body = students.json_body(cohort, ids)
                calls.append(call(f"bulk-json-{i}", body, answers.MEDIA_JSON, expected))
            else:
                expected = expect(oracles, cohort, cohort=True, csv=True)
                calls.append(call(f"bulk-csv-{i}", students.csv_body(cohort), "text/csv", expected))
        if invalid:
            bad_bulk = draw(bulk_rows)
            bad_bulk[-1]["reading_score"] = 101
            bad_category = {**draw(1)[0], "lunch": "?"}
            calls += [
                call("invalid-category", json.dumps(bad_category).encode(), answers.MEDIA_JSON,
                     answers.refusal(422, 1, "lunch")),
                call("invalid-bulk", json.dumps(bad_bulk).encode(), answers.MEDIA_JSON,
                     answers.refusal(422, bulk_rows, "reading_score")),
                call("invalid-json", b'{"gender": ', answers.MEDIA_JSON, answers.refusal(400)),
                call("invalid-media-type", b"a=1", "application/x-www-form-urlencoded",
                     answers.refusal(415)),
            ]  # fmt: skip
        self.calls = calls

    def next_call(self, rng: random.Random) -> Call:
        return rng.choice(self.calls)

    judge = staticmethod(judge)

    @staticmethod
    def rows(call: Call) -> int:
        """Students scored by a valid call; 0 for an invalid one."""
        return call.expected.count
