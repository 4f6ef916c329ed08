"""Immutable, versioned, integrity-checked ONNX models with their metadata."""

from model_store.store import (
    DEFAULT_ROOT,
    IntegrityError,
    ModelStore,
    StoredModel,
    StoreError,
    VersionNotFound,
)

__all__ = [
    "DEFAULT_ROOT",
    "IntegrityError",
    "ModelStore",
    "StoreError",
    "StoredModel",
    "VersionNotFound",
]
