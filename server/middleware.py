"""Middleware for tests only: the release gate's slowed server."""

from __future__ import annotations

import time

import falcon


class InjectedDelay:
    """Sleeps before every prediction: only for the release gate's slowed-server test."""

    def __init__(self, delay_ms: int, path: str) -> None:
        self._seconds = delay_ms / 1000
        self._path = path

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path == self._path:
            time.sleep(self._seconds)
