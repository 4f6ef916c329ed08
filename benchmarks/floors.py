"""The floors the server benchmark measures against, served under the real Gunicorn config
(`gunicorn --config server/gunicorn_conf.py 'benchmarks.floors:http_floor()'`: a
positional app overrides the config's `wsgi_app`).

- `http_floor()` reads the posted body and answers a constant: what HTTP, Gunicorn and
  Falcon cost for a body of that size, and nothing else.
- `model_floor()` does the same after running the served version's onnxruntime session
  on as many students as the body holds (counted, not parsed: one "{" per JSON student,
  one line per CSV row), with inputs built once in the form the server hands the model.
  No decoding, validation, telemetry or encoding: what any server built on this model
  runtime must spend at least, so the server's distance from it is the part that is ours.
"""

from __future__ import annotations

import sys

import falcon

from model_store.onnx_io import build_feeds, open_session, predict, records_to_columns
from model_store.store import ModelStore
from server.config import load_settings

ANSWER = b'{"model_version":"floor","math_score":0.0}'


class ConstantAnswer:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.run(req.bounded_stream.read(), req.content_type or "")  # all of it, as we must
        resp.content_type, resp.data = falcon.MEDIA_JSON, ANSWER

    def run(self, body: bytes, content_type: str) -> None:
        pass


class ModelRunOnly(ConstantAnswer):
    def __init__(self) -> None:
        settings = load_settings()
        stored = ModelStore(settings.store_dir).load(settings.model_version)
        self._metadata = stored.metadata
        self._session = open_session(stored.onnx_bytes, settings.ort_threads)
        # One shared str object per category, as the server's parsers hand them on.
        self._records = [{k: sys.intern(v) if isinstance(v, str) else v for k, v in r.items()}
                         for r in stored.metadata["parity_sample"]["records"]]  # fmt: skip
        self._feeds: dict[int, dict] = {}  # by students per body: a few body sizes

    def run(self, body: bytes, content_type: str) -> None:
        if content_type.startswith("text/csv"):
            students = body.count(b"\n") + (not body.endswith(b"\n")) - 1  # the header
        else:
            students = body.count(b"{")
        students = max(students, 1)
        if students not in self._feeds:
            tiled = [self._records[i % len(self._records)] for i in range(students)]
            columns = records_to_columns(self._metadata, tiled)
            self._feeds[students] = build_feeds(self._metadata, columns)
        predict(self._session, self._feeds[students])


def _serving(resource: ConstantAnswer) -> falcon.App:
    app = falcon.App()
    app.add_route("/predictdata", resource)
    return app


def http_floor() -> falcon.App:
    return _serving(ConstantAnswer())


def model_floor() -> falcon.App:
    return _serving(ModelRunOnly())
