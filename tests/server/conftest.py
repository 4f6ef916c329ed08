"""Fixtures for the server's tests. They run in the serving environment
(requirements.txt + pytest): no scikit-learn, so the model they serve is the
committed one, a real trained model, copied into a temporary store."""

from tests.support.fixtures import bare_model, client, model, start_server, store  # noqa: F401
