"""The HTTP floor: a Falcon app that reads the posted body and answers a constant.

Served under the real Gunicorn config (`gunicorn --config server/gunicorn_conf.py
benchmarks.floor_app:app`: a positional app overrides the config's `wsgi_app`),
it costs what HTTP, Gunicorn and Falcon cost for a body of that size and nothing
else, so the server's figures are read as fractions of it.
"""

from __future__ import annotations

import falcon

ANSWER = b'{"model_version":"floor","math_score":0.0}'


class ConstantAnswer:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        # Read the whole body, as the real resource must before it can parse it.
        req.bounded_stream.read()
        resp.content_type = falcon.MEDIA_JSON
        resp.data = ANSWER


app = falcon.App()
app.add_route("/predictdata", ConstantAnswer())
