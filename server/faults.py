"""A fault for tests only: a served model whose every prediction fails unexpectedly.

Set by STUDYPREDICT_TEST_FAULT=scoring (never in a deployment) so a test of the
real server can force a 500. The error quotes the students it was given, as an
error from a library might, so the test proves the 500 handler logs no message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from server.model import Scored, ServedModel


class InjectedScoringFault(RuntimeError):
    pass


class FailingModel(ServedModel):
    def scores(self, columns: Mapping[str, Sequence]) -> np.ndarray:
        raise InjectedScoringFault(f"test fault while scoring {dict(columns)!r}")

    def predict(self, columns: Mapping[str, Sequence], options) -> Scored:
        raise InjectedScoringFault(f"test fault while scoring {dict(columns)!r}")


def failing_scores(model: ServedModel) -> ServedModel:
    return FailingModel(model.version, model.metadata, model.session, model.contract, model.card)
