"""The server benchmark's floors under the real Gunicorn config (a positional app
overrides the config's `wsgi_app`: `gunicorn ... 'benchmarks.floors:app()'`). Both read
the body and answer a constant; `app(with_model=True)` first runs the served model on as
many students as the body holds, inputs built once: what any server on this model spends
at least, so the rest of the gap is ours.
"""

from __future__ import annotations

import falcon

from model_store.onnx_io import build_feeds, open_session, predict, records_to_columns
from model_store.store import ModelStore
from server.config import load_settings


class Floor:
    def __init__(self, with_model: bool) -> None:
        self._session, self._feeds = None, {}  # feeds by students per body: a few sizes
        if with_model:
            settings = load_settings()
            stored = ModelStore(settings.store_dir).load(settings.model_version)
            self._metadata = stored.metadata
            self._records = stored.metadata["parity_sample"]["records"]
            self._session = open_session(stored.onnx_bytes, settings.ort_threads)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.bounded_stream.read()  # all of it, as the server must
        if self._session is not None:
            if (req.content_type or "").startswith("text/csv"):  # lines past the header
                students = max(body.count(b"\n") + (not body.endswith(b"\n")) - 1, 1)
            else:
                students = max(body.count(b"{"), 1)
            if students not in self._feeds:
                tiled = [self._records[i % len(self._records)] for i in range(students)]
                columns = records_to_columns(self._metadata, tiled)
                self._feeds[students] = build_feeds(self._metadata, columns)
            predict(self._session, self._feeds[students])
        resp.content_type = falcon.MEDIA_JSON
        resp.data = b'{"model_version":"floor","math_score":0.0}'


def app(with_model: bool = False) -> falcon.App:
    floors = falcon.App()
    floors.add_route("/predictdata", Floor(with_model))
    return floors
