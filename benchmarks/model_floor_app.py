"""The HTTP + onnxruntime floor: the HTTP floor plus the served model's run, nothing else.

Like floor_app it reads the posted body and answers a constant, but first it
runs the served version's onnxruntime session on as many students as the body
holds (counted, not parsed: one "{" per JSON student, one line per CSV row),
with inputs built once at start-up in the form the server hands the model
(one shared str object per category, float32 scores). No decoding, validation,
telemetry or encoding: what any server built on this model runtime must spend
at least, so the server's distance from it is the part that is ours.

    gunicorn --config server/gunicorn_conf.py benchmarks.model_floor_app:app
"""

from __future__ import annotations

import sys

import falcon
import numpy as np

from model_store.onnx_io import build_feeds, open_session, predict, records_to_columns
from model_store.store import ModelStore
from server.config import Settings, load_settings

ANSWER = b'{"model_version":"model-floor","math_score":0.0}'


class ModelRunOnly:
    def __init__(self, settings: Settings) -> None:
        stored = ModelStore(settings.store_dir).load(settings.model_version)
        self._metadata = stored.metadata
        self._session = open_session(stored.onnx_bytes, settings.ort_threads)
        self._records = [
            {k: sys.intern(v) if isinstance(v, str) else v for k, v in record.items()}
            for record in stored.metadata["parity_sample"]["records"]
        ]

        self._feeds_by_size: dict[int, dict[str, np.ndarray]] = {}  # a few body sizes

    def _feeds(self, students: int) -> dict[str, np.ndarray]:
        feeds = self._feeds_by_size.get(students)
        if feeds is None:
            tiled = [self._records[i % len(self._records)] for i in range(students)]
            feeds = build_feeds(self._metadata, records_to_columns(self._metadata, tiled))
            self._feeds_by_size[students] = feeds
        return feeds

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.bounded_stream.read()
        if (req.content_type or "").startswith("text/csv"):
            lines = body.count(b"\n") + (not body.endswith(b"\n"))
            students = lines - 1  # the header
        else:
            students = body.count(b"{")
        predict(self._session, self._feeds(max(students, 1)))
        resp.content_type = falcon.MEDIA_JSON
        resp.data = ANSWER


app = falcon.App()
app.add_route("/predictdata", ModelRunOnly(load_settings()))
