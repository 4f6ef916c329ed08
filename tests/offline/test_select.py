"""Model selection fits every candidate with one thread per native thread pool."""

from __future__ import annotations

from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression
from threadpoolctl import threadpool_info

from train.pipeline import Candidate
from train.select import TRAINING_THREADS, select_model
from train.synthetic import generate


class ThreadRecordingRegressor(RegressorMixin, BaseEstimator):
    """A linear regression that notes the thread pools' sizes whenever it is fitted."""

    seen: list[set[int]] = []

    def fit(self, features, target):
        ThreadRecordingRegressor.seen.append({pool["num_threads"] for pool in threadpool_info()})
        self.model_ = LinearRegression().fit(features, target)
        return self

    def predict(self, features):
        return self.model_.predict(features)


def test_every_fit_runs_with_one_thread_per_pool():
    ThreadRecordingRegressor.seen.clear()
    select_model(
        generate(rows=120, seed=1), [Candidate("recorder", ThreadRecordingRegressor())], 0, 3
    )
    # Three folds and the refit.
    assert len(ThreadRecordingRegressor.seen) == 4
    assert all(sizes == {TRAINING_THREADS} for sizes in ThreadRecordingRegressor.seen)
