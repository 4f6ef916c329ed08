"""The WSGI application: `create_app` wires it, `get_app` is what Gunicorn runs."""

from __future__ import annotations

import logging
import os

import falcon

from model_store.store import ModelStore, StoreError
from server.config import RESOLVED_VERSION_ENV, Settings, load_settings
from server.drift_metrics import drift_counts_for
from server.drift_resource import Drift
from server.errors import RequestRejected, handle_rejected, handle_unexpected, serialize_http_error
from server.metrics import MODEL_INFO, Metrics
from server.middleware import InjectedDelay
from server.model import ServedModel, load_verified_model
from server.openapi import OpenApi
from server.page import add_page_routes
from server.resources import Health, ModelInfo, Predictions, Ready
from server.telemetry import AccessLog, RequestTelemetry

logger = logging.getLogger(__name__)


def create_app(model: ServedModel | None, settings: Settings) -> falcon.App:
    """Routes and handlers only; `model` is None when no verified model could be loaded."""
    middleware = [RequestTelemetry(AccessLog())]
    if settings.test_delay_ms:
        middleware.append(InjectedDelay(settings.test_delay_ms, "/predictdata"))
    app = falcon.App(middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    drift = drift_counts_for(model.version, model.metadata) if model is not None else None
    app.add_route(
        "/predictdata", Predictions(model, settings.max_body_bytes, settings.max_rows, drift)
    )
    app.add_route("/drift", Drift(model, drift))
    app.add_route("/health", Health())
    app.add_route("/ready", Ready(model))
    app.add_route("/model", ModelInfo(model))
    app.add_route("/metrics", Metrics([drift.exposition] if drift else []))
    app.add_route("/openapi.json", OpenApi(model.metadata if model else None))
    add_page_routes(app)
    if model is not None:
        MODEL_INFO.labels(model.version).set(1)
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(RequestRejected, handle_rejected)
    app.set_error_serializer(serialize_http_error)
    return app


def get_app() -> falcon.App:
    """Read the environment, load the version the Gunicorn master verified, build the app.

    Runs in each worker after fork, so every worker owns its onnxruntime session.
    """
    settings = load_settings()
    version = os.environ.get(RESOLVED_VERSION_ENV) or settings.model_version
    try:
        model = load_verified_model(ModelStore(settings.store_dir), version, settings.ort_threads)
    except StoreError as exc:
        # Keep the worker up and say so on /ready (the health check) rather than
        # crash-looping: Gunicorn halts entirely when a worker cannot boot.
        logger.error("no model served: %s", exc)
        model = None
    else:
        logger.info("worker %d serving model version %s", os.getpid(), model.version)
    return create_app(model, settings)
