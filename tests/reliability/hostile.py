"""The hostile-request corpus (corpus/hostile_requests.json) turned into bytes to send.

An entry: "name"; the body (below); optional "content_type" (default
application/json; null sends none), "headers", "gzip": true (compress the
body), "send" ({"chunked": true}, or {"declared_length", "chunk", "chunks",
"pause"}: a Content-Length the client never honours, sent a chunk per pause);
"expect" ({"status", "error_contains": [...], "fields": [[row, field], ...],
"count": predictions}); "decision" (why a 200 is right), "note", and "bug" (a
known product bug: the test is a strict xfail).

The body is "body": <spec>, or "student": {field: <spec of a raw JSON token>}:
the canonical student with those fields replaced by raw tokens (so NaN, 1e400
or invalid UTF-8 can be written), with optional "student_drop",
"prepend_members"/"append_members" (raw JSON members, for duplicate keys),
"as_array", and "prefix" (a spec put before the body, e.g. a BOM). A spec
keeps the big bodies small in the file:
    "abc"                                   UTF-8 text
    {"hex": "efbbbf"}                       raw bytes
    {"repeat": <spec>, "times": 10000}      a spec repeated
    [<spec>, <spec>, ...]                   specs concatenated
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from tests.support.models import STUDENT
from tests.support.traffic import post_head

MANIFEST = Path(__file__).parent / "corpus" / "hostile_requests.json"
_PLACEHOLDER = "\x00raw:{}\x00"


@dataclass(frozen=True)
class HostileRequest:
    name: str
    head: bytes
    parts: list[bytes]  # the body, sent part by part
    pause: float  # seconds before each part: a slow client
    expect: dict
    bug: str | None


def text(spec) -> bytes:
    if isinstance(spec, str):
        return spec.encode()
    if isinstance(spec, list):
        return b"".join(text(s) for s in spec)
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    return text(spec["repeat"]) * spec["times"]


def student_body(entry: dict) -> bytes:
    """The canonical student as JSON, with fields replaced by raw tokens."""
    raw = {name: text(spec) for name, spec in entry["student"].items()}
    student = {k: v for k, v in STUDENT.items() if k not in entry.get("student_drop", ())}
    student.update({name: _PLACEHOLDER.format(name) for name in raw})
    body = json.dumps(student).encode()
    for name, token in raw.items():
        body = body.replace(json.dumps(_PLACEHOLDER.format(name)).encode(), token)
    if "prepend_members" in entry:
        body = b"{" + text(entry["prepend_members"]) + b", " + body[1:]
    if "append_members" in entry:
        body = body[:-1] + b", " + text(entry["append_members"]) + b"}"
    return b"[" + body + b"]" if entry.get("as_array") else body


def build(entry: dict) -> HostileRequest:
    body = student_body(entry) if "student" in entry else text(entry.get("body", ""))
    body = text(entry.get("prefix", "")) + body
    if entry.get("gzip"):
        body = gzip.compress(body, mtime=0)
    content_type = entry.get("content_type", "application/json")
    headers = entry.get("headers", {})
    send = entry.get("send", {})
    if send.get("chunked"):
        size = 64 * 1024
        parts = [b"%x\r\n%s\r\n" % (len(c), c) for c in _split(body, size)] + [b"0\r\n\r\n"]
        head = post_head(None, content_type, **{"Transfer-Encoding": "chunked", **headers})
    elif "declared_length" in send:  # declares more than it will ever send
        parts = [text(send["chunk"])] * send["chunks"]
        head = post_head(send["declared_length"], content_type, **headers)
    else:
        parts = [body]
        head = post_head(len(body), content_type, **headers)
    return HostileRequest(
        entry["name"], head, parts, send.get("pause", 0.0), entry["expect"], entry.get("bug")
    )


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def load() -> list[dict]:
    entries = json.loads(MANIFEST.read_text())["requests"]
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), "corpus names must be unique"
    return entries
