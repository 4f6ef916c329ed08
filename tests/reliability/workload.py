"""Moved to tests/support/workload.py; kept for test_validator_properties.py until it imports
from there."""

from tests.support.workload import Oracle, scores_match  # noqa: F401
