"""The Gunicorn master's check of a model version before it forks workers.

The check runs in a child process (`python -m model_store verify --json`),
never in the master: onnxruntime state created before fork is inherited
half-locked by the workers, which then hang at exit (every SIGTERM waited out
the whole graceful timeout). The master itself imports no onnxruntime.
"""

from __future__ import annotations

import json
import subprocess
import sys

from model_store.store import ModelStore, StoreError

VERIFY_TIMEOUT_SECONDS = 60


def verify_in_child(store: ModelStore, version: str | None) -> str:
    """The version to serve (the pinned one, else the current one), checked as a
    worker will load it: SHA-256, onnxruntime load, parity sample. Raises StoreError."""
    version = version or store.current_version()
    command = [sys.executable, "-m", "model_store", "--store", str(store.root)]
    try:
        result = subprocess.run(
            [*command, "verify", "--json", version],
            capture_output=True,
            text=True,
            timeout=VERIFY_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise StoreError(f"verifying {version} took over {VERIFY_TIMEOUT_SECONDS} s") from None
    try:
        report = json.loads(result.stdout.strip().splitlines()[-1])
        ok, message = report["ok"], report["message"]
    except (IndexError, ValueError, KeyError, TypeError):
        raise StoreError(
            f"verifying {version} failed (exit status {result.returncode}): "
            f"{result.stderr.strip()[-500:] or 'no output'}"
        ) from None
    if not ok or result.returncode != 0:
        raise StoreError(message)
    return version
