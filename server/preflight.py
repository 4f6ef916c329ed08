"""The Gunicorn master's check of a model version before it forks workers.

The check runs in a child process (`python -m model_store verify`), never in
the master: onnxruntime state created before fork is inherited half-locked by
the workers, which then hang at exit (seen here: every SIGTERM waited out the
whole graceful timeout). The master itself imports no onnxruntime.
"""

from __future__ import annotations

import subprocess
import sys

from model_store.store import ModelStore, StoreError

VERIFY_TIMEOUT_SECONDS = 60


def verify_in_child(store: ModelStore, version: str | None) -> str:
    """The version to serve (the pinned one, else the current one), checked as a
    worker will load it: SHA-256, onnxruntime load, parity sample. Raises StoreError."""
    version = version or store.current_version()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "model_store", "--store", str(store.root), "verify", version],
            capture_output=True,
            text=True,
            timeout=VERIFY_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise StoreError(f"verifying {version} took over {VERIFY_TIMEOUT_SECONDS} s") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        message = lines[-1].removeprefix("error: ") if lines else "verification failed"
        raise StoreError(message)
    return version
