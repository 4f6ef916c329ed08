"""The web page: `/` serves index.html and `/static/{name}` its assets.

The files are read once, when the app is built, and served from memory: a
request never touches the file system, so no request path can reach outside
`static/` (a name is only a key in a dict of the files that were there).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import falcon

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# The page revalidates on every visit (a 304 while unchanged), so a deploy shows
# at once; its assets may be reused for a few minutes.
INDEX_CACHE_CONTROL = "no-cache"
ASSET_CACHE_CONTROL = "public, max-age=300"
# Scripts, styles and requests only from this origin: the page works offline
# and an injected value can never run as code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'"
)
# Beside the CSP: no MIME sniffing, and no page address sent to anyone.
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    cache_control: str
    etag: str


def load_static_files(folder: Path = STATIC_DIR) -> dict[str, StaticFile]:
    """Every .html, .js and .css file directly in `folder`, by name."""
    files = {}
    for path in sorted(folder.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is None or path.name.startswith(".") or not path.is_file():
            continue
        body = path.read_bytes()
        files[path.name] = StaticFile(
            body,
            content_type,
            INDEX_CACHE_CONTROL if path.name == INDEX else ASSET_CACHE_CONTROL,
            hashlib.sha256(body).hexdigest()[:32],
        )
    if INDEX not in files:
        raise FileNotFoundError(f"{folder / INDEX} is missing: the page cannot be served")
    return files


class StaticFiles:
    """GET / (the page) and GET /static/{name} (its scripts and styles)."""

    def __init__(self, files: dict[str, StaticFile]) -> None:
        self._index = files[INDEX]
        self._assets = {name: f for name, f in files.items() if name != INDEX}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _send(req, resp, self._index)
        resp.set_headers(PAGE_HEADERS)

    def on_get_asset(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        asset = self._assets.get(name)
        if asset is None:
            raise falcon.HTTPNotFound(description=f"no static file named {name[:100]!r}")
        _send(req, resp, asset)

    on_head = on_get
    on_head_asset = on_get_asset


def _send(req: falcon.Request, resp: falcon.Response, file: StaticFile) -> None:
    resp.etag = file.etag
    resp.cache_control = [file.cache_control]
    resp.set_header("X-Content-Type-Options", "nosniff")
    if any(tag == "*" or tag == file.etag for tag in req.if_none_match or ()):
        resp.status = falcon.HTTP_304
        return
    resp.content_type = file.content_type
    resp.data = file.body


def add_page_routes(app: falcon.App, folder: Path = STATIC_DIR) -> None:
    """Serve the page at `/` and its assets at `/static/{name}` (read from `folder` now)."""
    resource = StaticFiles(load_static_files(folder))
    app.add_route("/", resource)
    app.add_route("/static/{name}", resource, suffix="asset")
