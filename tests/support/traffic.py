"""Loopback HTTP for the reliability tests: one exchange over a raw socket, and
client threads that keep sending for a bounded time.

A raw socket rather than urllib, so every way a request can go wrong is told
apart: refused at connect, reset before any answer byte (never taken by a
worker), cut off mid-answer (taken, then lost), or timed out.
"""

from __future__ import annotations

import json
import random
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

REFUSED = "refused"  # nothing listens: the connection was never made
RESET = "reset"  # connected, but closed without a single answer byte
PARTIAL = "partial"  # an answer began and was cut off
TIMEOUT = "timeout"


@dataclass(frozen=True)
class Answer:
    status: int  # 0 when there is no complete HTTP answer; `failure` says why
    headers: dict[str, str]  # names in lower case
    body: bytes
    started: float  # time.monotonic() at connect
    finished: float
    failure: str = ""

    def json(self):
        return json.loads(self.body)


def request_head(method: str, path: str, headers: Mapping[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def post_head(body_length: int | None, content_type: str | None, **extra: str) -> bytes:
    """A POST /predictdata head; body_length None sends no Content-Length."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    if body_length is not None:
        headers["Content-Length"] = str(body_length)
    return request_head("POST", "/predictdata", {**headers, **extra})


def exchange(
    port: int,
    head: bytes,
    body_parts: Iterable[bytes] = (),
    *,
    pause: float = 0.0,
    timeout: float = 15.0,
) -> Answer:
    """Send `head`, then each body part (waiting `pause` s before each), and read the answer.

    Sending stops early when the server answers before the body is complete (a
    413 on the declared length). The server closes every connection (sync
    workers), so the answer is everything up to EOF.
    """
    started = time.monotonic()
    deadline = started + timeout
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except ConnectionRefusedError:
        return Answer(0, {}, b"", started, time.monotonic(), REFUSED)
    received = bytearray()
    failure = ""
    with sock:
        try:
            sock.sendall(head)
            for part in body_parts:
                if pause and select.select([sock], [], [], pause)[0]:
                    break  # answered already
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading; its answer may still be there
        except TimeoutError:
            failure = TIMEOUT
        try:
            while not failure:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            failure = TIMEOUT
        except ConnectionResetError:
            pass
    return _parse(bytes(received), started, failure)


def _parse(raw: bytes, started: float, failure: str) -> Answer:
    finished = time.monotonic()
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        return Answer(0, {}, raw, started, finished, failure or (PARTIAL if raw else RESET))
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length is not None and len(body) < int(length):
        return Answer(0, headers, body, started, finished, failure or PARTIAL)
    return Answer(int(status_line.split()[1]), headers, body, started, finished, failure)


@dataclass(frozen=True)
class Call:
    """One request of a workload and what the test needs to judge its answer."""

    name: str
    head: bytes
    body: bytes
    expected: object = None  # whatever the workload's checker needs


@dataclass(frozen=True)
class Record:
    call: Call
    answer: Answer  # without its body: judged as it came, then dropped to save memory
    problem: str | None  # what the judge found wrong; None when right


@dataclass
class Clients:
    """`threads` clients, each sending `next_call(rng)` in a loop until stopped, and
    judging each answer as it comes with `judge(call, answer)` (a problem or None).

    Bounded by itself: every client stops after `max_seconds` even if the test
    never stops it. Use as a context manager; `records` holds every exchange.
    """

    port: int
    next_call: Callable[[random.Random], Call]
    judge: Callable[[Call, Answer], str | None]
    threads: int = 4
    max_seconds: float = 60.0
    timeout: float = 15.0
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._workers = [
            threading.Thread(target=self._run, args=(seed,), daemon=True)
            for seed in range(self.threads)
        ]

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            call = self.next_call(rng)
            answer = exchange(self.port, call.head, [call.body], timeout=self.timeout)
            problem = self.judge(call, answer)
            self.records.append(Record(call, replace(answer, body=b""), problem))  # atomic
            if answer.failure == REFUSED:
                time.sleep(0.01)  # the server is gone; do not spin

    def __enter__(self) -> Clients:
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=self.timeout + 5)

    def __exit__(self, *exc) -> None:
        self.stop()

    def problems(self, records: list[Record] | None = None) -> list[str]:
        return [r.problem for r in (self.records if records is None else records) if r.problem]

    def since(self, moment: float) -> list[Record]:
        """Exchanges that started at or after `moment` (time.monotonic())."""
        return [r for r in list(self.records) if r.answer.started >= moment]
