"""No student data in the real server's output: unique markers in every field and id,
through success and every error path, and none of them in what Gunicorn printed."""

from __future__ import annotations

import itertools
import json
import random
import urllib.error
import urllib.request

from server.errors import traceback_without_messages
from server.keys import configuration_entry
from tests.server.conftest import STUDENT

KEY = "marker-test-key-" + "k" * 32
MAX_BODY_BYTES = 20_000
CSV_COLUMNS = list(STUDENT)


class Markers:
    """Values no log line could hold by chance; each one handed out is remembered."""

    def __init__(self) -> None:
        self.given: list[str] = []
        self._random = random.Random()
        self._serial = itertools.count()

    def text(self, what: str) -> str:
        marker = f"MK{next(self._serial)}x{self._random.randrange(16**10):010x}-{what}"
        self.given.append(marker)
        return marker

    def score(self) -> float:
        """A valid score (0-100) with digits that are its own."""
        value = round(self._random.uniform(20, 80), 5)
        self.given.append(repr(value))
        return value

    def student(self, valid: bool = True) -> dict:
        if valid:
            student = {**STUDENT, "reading_score": self.score(), "writing_score": self.score()}
        else:
            student = {name: self.text(name) for name in STUDENT}
            student["reading_score"] = 100 + self.score()  # out of range
        student["id"] = self.text("id")
        return student


def send(server, body: bytes, content_type: str, request_id: str, **headers: str) -> int:
    request = urllib.request.Request(
        f"{server.url}/predictdata?student={request_id}-query",
        data=body,
        headers={"Content-Type": content_type, "X-Request-ID": request_id, **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


def csv_body(students: list[dict], extra_column: tuple[str, str] | None = None) -> bytes:
    """A CSV of `students`, with an id column and, if given, one more (name, value)."""
    header = ["id", *CSV_COLUMNS]
    rows = [[str(s[c]) for c in header] for s in students]
    if extra_column:
        header.append(extra_column[0])
        rows = [[*row, extra_column[1]] for row in rows]
    return ("\n".join(",".join(line) for line in [header, *rows]) + "\n").encode()


def requests_on_every_path(markers: Markers) -> list[tuple[str, int, bytes, str, dict]]:
    """(request id, expected status, body, content type, extra headers) per path."""
    auth = {"Authorization": f"Bearer {KEY}"}
    bad = markers.student(valid=False)
    bad[markers.text("unknown-field-name")] = markers.text("unknown-field-value")
    oversize = [markers.student() for _ in range(200)]
    return [
        ("ok-json", 200, json.dumps([markers.student() for _ in range(3)]).encode(),
         "application/json", auth),
        ("ok-csv", 200, csv_body([markers.student() for _ in range(3)]), "text/csv", auth),
        ("invalid-json", 422, json.dumps([markers.student(), bad]).encode(),
         "application/json", auth),
        ("invalid-csv", 422, csv_body([markers.student(), markers.student(valid=False)],
         (markers.text("extra-column"), markers.text("extra-value"))), "text/csv", auth),
        ("broken-json", 400, f'{{"id": "{markers.text("id")}", "gender": '.encode(),
         "application/json", auth),
        ("ragged-csv", 400, csv_body([markers.student()]) + f"{markers.text('id')},x\n".encode(),
         "text/csv", auth),
        ("too-large", 413, json.dumps(oversize).encode(), "application/json", auth),
        ("wrong-type", 415, json.dumps(markers.student()).encode(), "text/plain", auth),
        ("compressed", 415, json.dumps(markers.student()).encode(), "application/json",
         {**auth, "Content-Encoding": "gzip"}),
        ("no-key", 401, json.dumps(markers.student()).encode(), "application/json", {}),
    ]  # fmt: skip


def logged_statuses(log: str, request_ids: list[str]) -> dict[str, int | None]:
    """The status each request's access line records (None: no line)."""
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    statuses = {e["request_id"]: e["status"] for e in entries}
    return {request_id: statuses.get(request_id) for request_id in request_ids}


def test_no_marker_reaches_the_log_on_any_path(store, start_server):
    markers = Markers()
    server = start_server(
        store.root,
        MAX_BODY_BYTES=str(MAX_BODY_BYTES),
        API_KEY_SHA256S=configuration_entry("markers", KEY),
    )
    cases = requests_on_every_path(markers)
    assert len(cases[6][2]) > MAX_BODY_BYTES
    for request_id, expected, body, content_type, headers in cases:
        assert send(server, body, content_type, request_id, **headers) == expected, request_id
    server.stop()  # every line written and flushed
    log = server.log()
    assert logged_statuses(log, [c[0] for c in cases]) == {c[0]: c[1] for c in cases}
    assert [m for m in markers.given if m in log] == []


def test_no_marker_reaches_the_log_from_an_unexpected_error(store, start_server):
    markers = Markers()
    server = start_server(store.root, STUDYPREDICT_TEST_FAULT="scoring")
    students = [markers.student() for _ in range(3)]
    assert send(server, json.dumps(students).encode(), "application/json", "fault-json") == 500
    assert send(server, csv_body(students), "text/csv", "fault-csv") == 500
    server.stop()
    log = server.log()
    assert logged_statuses(log, ["fault-json", "fault-csv"]) == {
        "fault-json": 500,
        "fault-csv": 500,
    }
    assert [m for m in markers.given if m in log] == []
    # The fault's message quotes the students; the log has its type and frames only.
    assert log.count("server.faults.InjectedScoringFault (message withheld)") == 2
    assert "request_id=fault-json POST /predictdata" in log


def test_a_500_logs_every_exception_of_the_chain_without_its_message():
    markers = Markers()
    score, student_id = markers.text("score"), markers.text("id")
    try:
        try:
            float(score)
        except ValueError as exc:
            raise KeyError(student_id) from exc
    except KeyError as exc:
        logged = traceback_without_messages(exc)
    assert [m for m in markers.given if m in logged] == []
    assert logged.index("builtins.ValueError") < logged.index("builtins.KeyError")
    assert "test_no_student_data_in_logs.py" in logged  # where it was raised
