"""Per-request plumbing: the request id, echoed in the response and the access log."""

from __future__ import annotations

import os
import re
import time

import falcon

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept only if it is short and printable, so it cannot forge log lines.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


class RequestId:
    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        given = req.get_header(REQUEST_ID_HEADER)
        req.context.request_id = (
            given if given and _SAFE_ID.fullmatch(given) else os.urandom(16).hex()
        )

    def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        resp.set_header(REQUEST_ID_HEADER, req.context.request_id)


class InjectedDelay:
    """Sleeps before every prediction: only for the release gate's slowed-server test."""

    def __init__(self, delay_ms: int, path: str) -> None:
        self._seconds = delay_ms / 1000
        self._path = path

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path == self._path:
            time.sleep(self._seconds)
