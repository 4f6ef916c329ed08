"""A body over the limit: the client reads the 413, from the real Gunicorn, with no nginx."""

from __future__ import annotations

import json
import socket
import threading
import time

from server.oversize import linger_after_answer

LIMIT = 8 * 1024 * 1024  # past the kernel's socket buffers, so an unread body resets


def post_raw(port: int, head: bytes, body_parts: list[bytes]) -> bytes:
    """Send the whole request, as a simple client does, then read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def status_and_body(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def headers(**extra: str) -> bytes:
    lines = ["POST /predictdata HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_body_twice_the_limit_gets_a_readable_413(store, start_server):
    server = start_server(store.root, MAX_BODY_BYTES=str(LIMIT))
    size = 2 * LIMIT
    answer = post_raw(server.port, headers(Content_Length=str(size)), [b"[" + b" " * (size - 1)])
    status, body = status_and_body(answer)
    assert status == 413
    assert f"{size} bytes exceeds the limit of {LIMIT} bytes" in body["error"]


def test_a_chunked_body_twice_the_limit_gets_a_readable_413(store, start_server):
    server = start_server(store.root, MAX_BODY_BYTES=str(LIMIT))
    chunk = b"[" + b" " * (64 * 1024 - 1)
    framed = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * (2 * LIMIT // len(chunk)) + [b"0\r\n\r\n"]
    answer = post_raw(server.port, headers(Transfer_Encoding="chunked"), framed)
    status, body = status_and_body(answer)
    assert status == 413
    assert f"the body exceeds the limit of {LIMIT} bytes" in body["error"]


def test_lingering_reads_what_the_client_still_sends_then_stops_at_its_end():
    server_end, client_end = socket.socketpair()
    with server_end, client_end:

        def client() -> None:  # sends more than a socket buffer holds, then ends
            client_end.sendall(b"x" * 300_000)
            client_end.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=client)
        sender.start()
        assert linger_after_answer(server_end, 10_000_000, 5.0) == 300_000
        sender.join()
        assert client_end.recv(1) == b""  # the client was told the answer is complete


def test_lingering_stops_at_the_byte_bound():
    server_end, client_end = socket.socketpair()
    with server_end, client_end:
        client_end.setblocking(False)
        try:
            client_end.send(b"x" * 100_000)
        except BlockingIOError:
            pass
        assert linger_after_answer(server_end, 1000, 5.0) == 1000


def test_lingering_stops_at_the_time_bound_for_a_client_that_goes_quiet():
    server_end, client_end = socket.socketpair()
    with server_end, client_end:
        client_end.sendall(b"x" * 10)
        started = time.monotonic()
        assert linger_after_answer(server_end, 1000, 0.3) == 10
        assert 0.3 <= time.monotonic() - started < 2
