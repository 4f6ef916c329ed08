"""Gunicorn settings for the prediction server (the Procfile runs `gunicorn --config` this file).

The master verifies the model version (in a child process, see preflight.py)
before any worker starts and again on SIGHUP, then pins it for the workers it
forks: a corrupt or tampered version stops a start with one line, and is
refused on reload while the old one serves.
"""

import logging
import os
import shutil
import sys
import tempfile

from model_store.store import ModelStore, StoreError
from server.config import METRICS_DIR_ENV, ConfigError, hand_over_version, load_settings
from server.keys import open_mode_warning
from server.oversize import DRAIN_FACTOR, LINGER_SECONDS, linger_after_answer
from server.preflight import verify_in_child

logging.basicConfig(
    level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
)
logger = logging.getLogger("studypredict.gunicorn")

# Metrics across workers: prometheus-client's multiprocess mode needs a folder
# shared by the workers, set before they import it. Kept across SIGHUP reloads
# (this file is read again then): the environment already names it.
_OWN_METRICS_DIR = "STUDYPREDICT_OWN_METRICS_DIR"
if not os.environ.get(METRICS_DIR_ENV):
    os.environ[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="studypredict-metrics-")
    os.environ[_OWN_METRICS_DIR] = os.environ[METRICS_DIR_ENV]

try:
    settings = load_settings()
except ConfigError as exc:
    sys.exit(f"studypredict: configuration error: {exc}")

wsgi_app = "server.app:get_app()"
# Elastic Beanstalk's nginx proxies to 127.0.0.1:8000; nothing else should reach Gunicorn.
bind = f"127.0.0.1:{settings.port}"
workers = settings.workers
# Sync workers: the work is CPU-bound and nginx buffers slow clients in front of us.
worker_class = "sync"
timeout = settings.timeout
graceful_timeout = 30
# Load the app in each worker after fork: each worker owns its onnxruntime
# session, and SIGHUP loads a newly promoted version.
preload_app = False
# Gunicorn's runtime control socket sits at one fixed path per user: two servers
# on a host (tests, blue/green) would fight over it, and we do not use it.
control_socket_disable = True
# The access log is the app's own JSON line per request on standard error, with
# the rows scored and the request id (server/telemetry.py); Gunicorn's would be
# a second line.
accesslog = None
errorlog = "-"


def _resolve_version() -> str:
    return verify_in_child(ModelStore(settings.store_dir), settings.model_version)


def on_starting(server) -> None:
    metrics_dir = settings.metrics_dir
    for name in os.listdir(metrics_dir):  # counts start at zero with the server
        if name.endswith(".db"):
            os.unlink(os.path.join(metrics_dir, name))
    try:
        version = _resolve_version()
    except StoreError as exc:
        print(f"studypredict: cannot serve: {exc}", file=sys.stderr, flush=True)
        os._exit(1)
    hand_over_version(version)
    logger.info("serving model version %s", version)
    warning = open_mode_warning(settings.api_keys)
    if warning:
        logger.warning(warning)


def on_reload(server) -> None:
    previous = load_settings().resolved_version
    try:
        version = _resolve_version()
    except StoreError as exc:
        logger.error("reload refused, still serving %s: %s", previous, exc)
        return
    hand_over_version(version)
    logger.info("reload: serving model version %s (was %s)", version, previous)


def post_request(worker, req, environ, resp) -> None:
    # After a 413 the client may still be sending the body: read it before closing.
    if resp is not None and resp.status_code == 413 and "gunicorn.socket" in environ:
        limit = DRAIN_FACTOR * settings.max_body_bytes
        linger_after_answer(environ["gunicorn.socket"], limit, LINGER_SECONDS)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    own = os.environ.get(_OWN_METRICS_DIR)
    if own:
        shutil.rmtree(own, ignore_errors=True)
