"""The access log writer: whole JSON lines, and never a failed request because of the log."""

from __future__ import annotations

import json
import os

from server.telemetry import AccessLog


def test_each_entry_is_one_json_line():
    read_end, write_end = os.pipe()
    try:
        log = AccessLog(write_end)
        log.write({"status": 200, "request_id": "a"})
        log.write({"status": 422, "request_id": "b"})
        os.close(write_end)
        with os.fdopen(read_end, "rb") as reader:
            lines = reader.read().splitlines()
    finally:
        for fd in (read_end, write_end):
            try:
                os.close(fd)
            except OSError:
                pass
    assert [json.loads(line) for line in lines] == [
        {"status": 200, "request_id": "a"},
        {"status": 422, "request_id": "b"},
    ]


def test_a_log_nobody_reads_any_more_is_skipped_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # writing now fails with EPIPE
    try:
        AccessLog(write_end).write({"status": 200})
    finally:
        os.close(write_end)


def test_a_closed_log_is_skipped_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)  # writing now fails with EBADF
    AccessLog(write_end).write({"status": 200})
