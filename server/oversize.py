"""A lingering close after a 413, so the client reads the answer instead of a reset.

The 413 for a body over the limit goes out before the body has been read. If
the socket is then closed with the rest of the body unread, the kernel resets
the connection, and a client still sending sees "connection reset", never the
413 that says what to fix. Gunicorn's own graceful close reads at most 64 KiB
for 2 s; after a 413 this reads on, within a byte and a time bound, so an
honest cohort a few times too large is answered, and a flood or a trickle
still ties up the worker for seconds only.
"""

from __future__ import annotations

import socket
import time

DRAIN_FACTOR = 4  # read at most this many times the body limit
LINGER_SECONDS = 5.0  # well inside Gunicorn's worker timeout
CHUNK_BYTES = 256 * 1024


def linger_after_answer(sock: socket.socket, max_bytes: int, seconds: float) -> int:
    """Say the answer is complete (FIN), then read and discard what the client still
    sends until it stops, `max_bytes` have come, or `seconds` have passed.

    Returns the bytes discarded. The caller (Gunicorn) closes the socket afterwards.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return 0  # the client is gone already
    deadline = time.monotonic() + seconds
    discarded = 0
    while discarded < max_bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            sock.settimeout(remaining)
            chunk = sock.recv(min(CHUNK_BYTES, max_bytes - discarded))
        except OSError:  # a timeout or a reset: stop either way
            break
        if not chunk:
            break
        discarded += len(chunk)
    return discarded
