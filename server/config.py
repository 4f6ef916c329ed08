"""The server's settings, read once from the environment.

A bad value stops the server at start with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from model_store.store import DEFAULT_ROOT
from server.keys import (
    API_KEYS_ENV,
    METRICS_KEYS_ENV,
    REQUIRE_KEYS_ENV,
    KeyRing,
    parse_key_hashes,
)

DEFAULT_PORT = 8000  # what Elastic Beanstalk's nginx proxies to
DEFAULT_WORKERS = 2  # one per vCPU of a t3.small: the work is CPU-bound
DEFAULT_ORT_THREADS = 1  # per worker; workers already use every core (see benchmarks/)
DEFAULT_TIMEOUT = 30
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
# Gunicorn's limit on the request line (method, path and query), its default made
# explicit: the OpenAPI document lists the 414 Gunicorn answers over it.
MAX_REQUEST_LINE_BYTES = 4094
# Tests only: milliseconds slept before every POST /predictdata, so the release
# gate's tests can prove a slowed server is a no-go. Unset (0) in every deployment.
TEST_DELAY_ENV = "STUDYPREDICT_TEST_DELAY_MS"
# prometheus-client's multiprocess folder, set by the Gunicorn config (gunicorn_conf.py).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The Gunicorn master's hand-over to the workers it forks: the version it verified,
# which they serve exactly (see hand_over_version).
RESOLVED_VERSION_ENV = "STUDYPREDICT_RESOLVED_VERSION"
# Tests only: "scoring" makes every prediction fail unexpectedly (a 500), its
# error quoting the students, so the no-student-data-in-logs test can force one.
TEST_FAULT_ENV = "STUDYPREDICT_TEST_FAULT"
# "false": no live drift counts (GET /drift says so); a request's own ?report=drift still works.
DRIFT_COUNTS_ENV = "DRIFT_COUNTS"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    port: int = DEFAULT_PORT
    workers: int = DEFAULT_WORKERS
    store_dir: Path = DEFAULT_ROOT
    model_version: str | None = None  # pin a version; default: the store's current one
    resolved_version: str | None = None  # the version the Gunicorn master verified
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_rows: int = DEFAULT_MAX_ROWS
    ort_threads: int = DEFAULT_ORT_THREADS
    timeout: int = DEFAULT_TIMEOUT
    test_delay_ms: int = 0
    test_fault: str | None = None
    api_keys: KeyRing = KeyRing()  # empty: the data endpoints are open
    metrics_keys: KeyRing = KeyRing()  # empty: /metrics takes the API keys
    metrics_dir: str | None = None  # set: add up every worker's samples on GET /metrics
    drift_counts: bool = True  # count every scored student for GET /drift and /metrics

    @property
    def served_version(self) -> str | None:
        """What a worker loads: the master's verified version, else the pinned one
        (None: the store's current one)."""
        return self.resolved_version or self.model_version


def _positive_int(env: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not 1 <= value <= maximum:
        raise ConfigError(f"{name}={raw!r} must be between 1 and {maximum}")
    return value


def _key_ring(env: Mapping[str, str], name: str) -> KeyRing:
    try:
        return parse_key_hashes(env.get(name, ""))
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw not in ("", "true", "false"):
        raise ConfigError(f"{name}={raw!r} must be true or false")
    return raw == "true" if raw else default


def load_settings(env: Mapping[str, str] = os.environ) -> Settings:
    store_dir = Path(env.get("MODEL_STORE_DIR") or DEFAULT_ROOT)
    if not store_dir.is_dir():
        raise ConfigError(f"MODEL_STORE_DIR={str(store_dir)!r} is not a folder")
    api_keys = _key_ring(env, API_KEYS_ENV)
    if _flag(env, REQUIRE_KEYS_ENV) and not api_keys:
        raise ConfigError(
            f"{REQUIRE_KEYS_ENV}=true but {API_KEYS_ENV} is empty: set it to NAME:SHA256 "
            "entries (`python -m server.keys new NAME` prints one)"
        )
    fault = env.get(TEST_FAULT_ENV, "").strip() or None
    if fault not in (None, "scoring"):
        raise ConfigError(f"{TEST_FAULT_ENV}={fault!r}: the only fault is 'scoring'")
    return Settings(
        port=_positive_int(env, "PORT", DEFAULT_PORT, 65535),
        workers=_positive_int(env, "WEB_CONCURRENCY", DEFAULT_WORKERS, 64),
        store_dir=store_dir,
        model_version=env.get("MODEL_VERSION", "").strip() or None,
        resolved_version=env.get(RESOLVED_VERSION_ENV) or None,
        metrics_dir=env.get(METRICS_DIR_ENV) or None,
        max_body_bytes=_positive_int(env, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 2**31),
        max_rows=_positive_int(env, "MAX_ROWS", DEFAULT_MAX_ROWS, 10_000_000),
        ort_threads=_positive_int(env, "ORT_INTRA_OP_THREADS", DEFAULT_ORT_THREADS, 64),
        timeout=_positive_int(env, "GUNICORN_TIMEOUT", DEFAULT_TIMEOUT, 3600),
        test_delay_ms=_positive_int(env, TEST_DELAY_ENV, 0, 60_000),
        test_fault=fault,
        api_keys=api_keys,
        metrics_keys=_key_ring(env, METRICS_KEYS_ENV),
        drift_counts=_flag(env, DRIFT_COUNTS_ENV, default=True),
    )


def hand_over_version(version: str, env: MutableMapping[str, str] = os.environ) -> None:
    """Called in the Gunicorn master: the workers it forks next read `version` as
    `Settings.resolved_version` (an environment variable survives fork and exec)."""
    env[RESOLVED_VERSION_ENV] = version
