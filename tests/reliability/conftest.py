"""The reliability tests reuse the server suite's fixtures: the committed model in a
temporary store, served by the Procfile's Gunicorn on a free loopback port.

They run in the development environment (hypothesis and onnx, which the serving
one lacks): `.venv/bin/python -m pytest tests/reliability`. The soak run is
marked `soak` and runs only when asked for: `pytest -m soak tests/reliability -s`
(SOAK_SECONDS, default 60).
"""

from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from tests.reliability.watch import listens_itself
from tests.server.conftest import model, start_server, store  # noqa: F401

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


@pytest.fixture
def serve(start_server):  # noqa: F811 (the fixture imported above)
    """start_server, made sure that what answers on the port is the server it started
    (see watch.listens_itself); up to three tries."""

    def start(store_dir: Path, **env: str):
        for _ in range(3):
            server = start_server(store_dir, wait=False, **env)
            try:
                server.wait_ready()
            except AssertionError:  # it could not bind, and exited
                continue
            if listens_itself(server):
                return server
            server.stop()
        raise AssertionError(f"no server of ours listening after three tries:\n{server.log()}")

    return start
