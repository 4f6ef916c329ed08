"""The WSGI application: `create_app` wires it, `get_app` is what Gunicorn runs."""

from __future__ import annotations

import logging
import os
from functools import partial

import falcon

from model_store.store import ModelStore, StoreError
from server.access import ApiKeyAccess, needs_key
from server.config import Settings, load_settings
from server.drift_metrics import drift_counts_for
from server.drift_resource import Drift
from server.error_handlers import handle_rejected, handle_unexpected, serialize_http_error
from server.errors import RequestRejected
from server.faults import failing_scores
from server.metrics import MODEL_INFO, Metrics
from server.middleware import InjectedDelay
from server.model import ServedModel, load_verified_model
from server.openapi import OpenApi
from server.page import add_page_routes
from server.request_context import StudyRequest
from server.resources import (
    CARD_PATH,
    Health,
    ModelCard,
    ModelInfo,
    Predictions,
    Ready,
    Unavailable,
)
from server.telemetry import AccessLog, RequestTelemetry

logger = logging.getLogger(__name__)


def _bare_app(settings: Settings) -> falcon.App:
    """Middleware and error handling, shared by the real app and the unavailable one."""
    middleware = [RequestTelemetry(AccessLog())]
    if settings.api_keys or settings.metrics_keys:
        middleware.append(ApiKeyAccess(settings.api_keys, settings.metrics_keys))
    if settings.test_delay_ms:
        middleware.append(InjectedDelay(settings.test_delay_ms, "/predictdata"))
    app = falcon.App(middleware=middleware, request_type=StudyRequest)
    app.req_options.strip_url_path_trailing_slash = True
    app.add_route("/health", Health())
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(RequestRejected, handle_rejected)
    app.set_error_serializer(serialize_http_error)
    return app


def create_app(model: ServedModel, settings: Settings) -> falcon.App:
    """Routes and handlers only."""
    app = _bare_app(settings)
    if settings.test_fault:
        model = failing_scores(model)
    drift = drift_counts_for(model, settings.metrics_dir, live=settings.drift_counts)
    drift_metrics = [drift.exposition] if drift is not None and drift.live else []
    app.add_route(
        "/predictdata", Predictions(model, settings.max_body_bytes, settings.max_rows, drift)
    )
    app.add_route("/drift", Drift(model, drift))
    app.add_route("/ready", Ready(model))
    app.add_route("/model", ModelInfo(model))
    app.add_route(CARD_PATH, ModelCard(model))
    app.add_route("/metrics", Metrics(settings.metrics_dir, drift_metrics))
    keyed = partial(needs_key, api_keys=settings.api_keys, metrics_keys=settings.metrics_keys)
    app.add_route("/openapi.json", OpenApi(model.contract, model.version, keyed))
    add_page_routes(app)
    MODEL_INFO.labels(model.version).set(1)
    return app


def create_unavailable_app(settings: Settings) -> falcon.App:
    """/health answers 200; every other path one JSON 503 (no verified model)."""
    app = _bare_app(settings)
    app.add_sink(Unavailable())  # routes are matched before sinks: /health still answers
    return app


def get_app() -> falcon.App:
    """Read the environment, load the version the Gunicorn master verified, build the app.

    Runs in each worker after fork, so every worker owns its onnxruntime session.
    """
    settings = load_settings()
    try:
        model = load_verified_model(
            ModelStore(settings.store_dir), settings.served_version, settings.ort_threads
        )
    except StoreError as exc:
        # Keep the worker up and say so on /ready (the health check) rather than
        # crash-looping: Gunicorn halts entirely when a worker cannot boot.
        logger.error("no model served: %s", exc)
        return create_unavailable_app(settings)
    logger.info("worker %d serving model version %s", os.getpid(), model.version)
    return create_app(model, settings)
