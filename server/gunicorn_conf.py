"""Gunicorn settings for the prediction server (the Procfile runs `gunicorn --config` this file).

The master verifies the model version (in a child process, see preflight.py)
before any worker starts and again on SIGHUP, then pins it for the workers it
forks: a corrupt or tampered version stops a start with one line, and is
refused on reload while the old one serves.
"""

import errno
import logging
import os
import shutil
import socket
import sys
import tempfile

from model_store.store import ModelStore, StoreError
from server.config import (
    MAX_REQUEST_LINE_BYTES,
    METRICS_DIR_ENV,
    ConfigError,
    hand_over_version,
    load_settings,
)
from server.keys import open_mode_warning
from server.memory import keep_freed_memory
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
HOST = "127.0.0.1"
bind = f"{HOST}:{settings.port}"
workers = settings.workers
# Sync workers: the work is CPU-bound and nginx buffers slow clients in front of us.
worker_class = "sync"
timeout = settings.timeout
graceful_timeout = 30
limit_request_line = MAX_REQUEST_LINE_BYTES
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


def port_problem(host: str, port: int) -> str | None:
    """Why Gunicorn could not bind (host, port), in one line with what to do;
    None if it can. Bound as Gunicorn binds, with SO_REUSEADDR."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use (another server?); "
                    f"set PORT to a free one, e.g. PORT={port + 1} make serve"
                )
            return f"cannot listen on {host}:{port} ({exc.strerror}); set PORT to another port"
    return None


def on_starting(server) -> None:
    # Before Gunicorn binds, which would retry five times and say nothing of PORT.
    # Not when it is handed its sockets (a USR2 upgrade, systemd): they are bound.
    # Only TCP addresses (a launcher may pass a bound socket: --bind fd://N).
    if not server.master_pid and not os.environ.get("LISTEN_FDS"):
        for address in server.cfg.address:
            problem = port_problem(*address) if isinstance(address, tuple) else None
            if problem:
                print(f"studypredict: cannot serve: {problem}", file=sys.stderr, flush=True)
                os._exit(1)
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
    keep_freed_memory()  # for the workers forked from here (server/memory.py)
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
