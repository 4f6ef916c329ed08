"""One HTTP exchange with a running server, through urllib (tests/support/traffic.py has
the raw-socket client for faults urllib would hide)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def request(
    url: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
):
    """(status, headers, body) of one request; error statuses are answers too."""
    req = urllib.request.Request(url, body, {"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def predict(server, payload) -> tuple[int, dict]:
    """(status, decoded JSON answer) of POST /predictdata with `payload` as JSON."""
    status, _, body = request(server.url + "/predictdata", json.dumps(payload).encode())
    return status, json.loads(body)
