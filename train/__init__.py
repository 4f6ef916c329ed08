"""Offline training: data, candidate pipelines, selection by cross-validation."""
