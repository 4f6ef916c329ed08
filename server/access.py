"""Who may call what: API keys on every route but the load balancer's checks and the page.

With keys configured, a request to any other route must carry one, as
`Authorization: Bearer <key>` or `X-API-Key: <key>`; `/metrics` takes its own
key set when one is configured. Without keys every route is open: the mode a
fresh clone runs in on 127.0.0.1, announced by `server.keys.open_mode_warning`.
"""

from __future__ import annotations

import falcon

from server.errors import error_body
from server.keys import KeyRing
from server.metrics import API_KEY_REQUESTS, UNAUTHORIZED

# The load balancer's health checks, and the page, which asks for a key itself.
OPEN_ROUTES = frozenset({"/health", "/ready", "/", "/static/{name}"})
METRICS_ROUTE = "/metrics"
WWW_AUTHENTICATE = 'Bearer realm="studypredict"'
HOW_TO_SEND = "send it as 'Authorization: Bearer <key>' or as 'X-API-Key: <key>'"


class Unauthorized(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # a metrics label: a few fixed words
        self.message = message


class ApiKeyAccess:
    """Falcon middleware: a 401 for a routed request without a key valid for its route."""

    def __init__(self, api_keys: KeyRing, metrics_keys: KeyRing) -> None:
        self._api_keys = api_keys
        self._metrics_keys = metrics_keys or api_keys
        self._counted: dict[str, object] = {}

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params):
        template = req.uri_template
        if template in OPEN_ROUTES:
            return
        keys = self._metrics_keys if template == METRICS_ROUTE else self._api_keys
        if not keys:
            return
        try:
            name = keys.name_of(presented_key(req))
            if name is None:
                raise Unauthorized(
                    "wrong_key",
                    f"the API key sent is not valid for {req.path}: check that it was copied "
                    "whole, or ask the service's operator for a new one",
                )
        except Unauthorized as refused:
            _refuse(resp, refused)
            return
        req.context.api_key = name
        counter = self._counted.get(name)
        if counter is None:
            counter = self._counted[name] = API_KEY_REQUESTS.labels(name)
        counter.inc()


def presented_key(req: falcon.Request) -> str:
    """The key in the request's Authorization or X-API-Key header; Unauthorized if none."""
    authorization = req.get_header("Authorization")
    api_key = req.get_header("X-API-Key")
    if authorization is not None and api_key is not None:
        raise Unauthorized(
            "malformed", "send the API key in one header, Authorization or X-API-Key, not both"
        )
    if api_key is not None:
        key = api_key.strip()
    elif authorization is not None:
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key or " " in key:
            raise Unauthorized(
                "malformed",
                "the Authorization header must be 'Bearer <key>'; or send the key as "
                "'X-API-Key: <key>'",
            )
    else:
        raise Unauthorized(
            "missing",
            f"this endpoint needs an API key: {HOW_TO_SEND} (the operator gives out keys)",
        )
    if not key:
        raise Unauthorized("malformed", f"the X-API-Key header is empty: {HOW_TO_SEND}")
    return key


def _refuse(resp: falcon.Response, refused: Unauthorized) -> None:
    UNAUTHORIZED.labels(refused.reason).inc()
    resp.status = falcon.HTTP_401
    resp.set_header("WWW-Authenticate", WWW_AUTHENTICATE)
    resp.content_type = falcon.MEDIA_JSON
    resp.data = error_body(refused.message)
    resp.complete = True
