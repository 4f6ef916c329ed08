"""The reliability tests: the committed model in a temporary store, served by the
Procfile's Gunicorn on loopback (tests/support).

They run in the development environment (hypothesis and onnx, which the serving
one lacks): `.venv/bin/python -m pytest tests/reliability`. The soak run is
marked `soak` and runs only when asked for: `pytest -m soak tests/reliability -s`
(SOAK_SECONDS, default 60).
"""

from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from tests.support.fixtures import start_server, store  # noqa: F401 (fixtures)

# Hypothesis's caches stay beside these tests (git ignores .hypothesis/), not in
# the working directory.
set_hypothesis_home_dir(Path(__file__).parent / ".hypothesis")


def pytest_collection_modifyitems(config, items):
    if "soak" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="a long soak run: select it with -m soak")
    for item in items:
        if item.get_closest_marker("soak"):
            item.add_marker(skip)
