"""Standard errors of realised metrics against the spread of scikit-learn's metric over many
independent windows drawn from one known distribution (Monte Carlo), and exact under merge."""

from __future__ import annotations

import numpy as np
import pytest
from infersight.drift.performance import ClassificationState, RegressionState
from infersight.drift.sampling_error import classification_stderrs, regression_stderrs
from sklearn import metrics as skm

WINDOWS = 400


def _binary_window(rng: np.random.Generator, n: int, base_rate: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = (rng.random(n) < base_rate).astype(int)
    scores = np.clip(rng.normal(0.35 + 0.3 * y, 0.18), 0.0, 1.0)
    return y, (scores >= 0.5).astype(int), scores


@pytest.mark.parametrize(("n", "base_rate"), [(600, 0.25), (2000, 0.5), (300, 0.1)])
def test_classification_stderrs_match_the_spread_over_windows(n: int, base_rate: float) -> None:
    rng = np.random.default_rng(n)
    values: dict[str, list[float]] = {m: [] for m in ("accuracy", "precision", "recall", "f1",
                                                     "roc_auc")}
    predicted: dict[str, list[float]] = {m: [] for m in values}
    for _ in range(WINDOWS):
        y, yhat, scores = _binary_window(rng, n, base_rate)
        values["accuracy"].append(skm.accuracy_score(y, yhat))
        values["precision"].append(skm.precision_score(y, yhat, zero_division=0))
        values["recall"].append(skm.recall_score(y, yhat))
        values["f1"].append(skm.f1_score(y, yhat))
        values["roc_auc"].append(skm.roc_auc_score(y, scores))
        state = ClassificationState([0, 1])
        state.update(y, yhat, scores=scores)
        for name, value in classification_stderrs(state).items():
            predicted[name.removesuffix("_stderr")].append(value)
    for name, observed in values.items():
        spread = float(np.std(observed, ddof=1))
        ours = float(np.mean(predicted[name]))
        assert ours == pytest.approx(spread, rel=0.12), (name, ours, spread)


def test_macro_stderrs_of_a_multiclass_model_match_the_spread() -> None:
    rng = np.random.default_rng(3)
    observed, predicted = [], []
    for _ in range(WINDOWS):
        y = rng.integers(0, 3, 900)
        yhat = np.where(rng.random(900) < 0.7, y, rng.integers(0, 3, 900))
        observed.append(skm.f1_score(y, yhat, average="macro"))
        state = ClassificationState([0, 1, 2])
        state.update(y, yhat)
        predicted.append(classification_stderrs(state)["f1_stderr"])
    assert float(np.mean(predicted)) == pytest.approx(float(np.std(observed, ddof=1)), rel=0.15)


def test_regression_stderrs_match_the_spread_over_windows() -> None:
    rng = np.random.default_rng(11)
    observed: dict[str, list[float]] = {"mae": [], "rmse": [], "mape": []}
    predicted: dict[str, list[float]] = {"mae": [], "rmse": [], "mape": []}
    for _ in range(WINDOWS):
        y = rng.uniform(5.0, 50.0, 800)
        yhat = y + rng.standard_t(5, 800) * 2.0
        observed["mae"].append(skm.mean_absolute_error(y, yhat))
        observed["rmse"].append(float(np.sqrt(skm.mean_squared_error(y, yhat))))
        observed["mape"].append(skm.mean_absolute_percentage_error(y, yhat))
        state = RegressionState()
        state.update(y, yhat)
        for name, value in regression_stderrs(state).items():
            predicted[name.removesuffix("_stderr")].append(value)
    for name, values in observed.items():
        assert float(np.mean(predicted[name])) == pytest.approx(
            float(np.std(values, ddof=1)), rel=0.12), name


def test_stderrs_of_merged_states_equal_one_state_fed_every_row() -> None:
    rng = np.random.default_rng(5)
    y, yhat, scores = _binary_window(rng, 3000, 0.3)
    whole, parts = ClassificationState([0, 1]), ClassificationState([0, 1])
    whole.update(y, yhat, scores=scores)
    for chunk in np.array_split(np.arange(3000), 7):
        part = ClassificationState([0, 1])
        part.update(y[chunk], yhat[chunk], scores=scores[chunk])
        parts.merge(part)
    assert classification_stderrs(parts) == classification_stderrs(whole)
    truth, guess = rng.uniform(1, 10, 3000), rng.uniform(1, 10, 3000)
    one, merged = RegressionState(), RegressionState()
    one.update(truth, guess)
    for chunk in np.array_split(np.arange(3000), 5):
        part = RegressionState()
        part.update(truth[chunk], guess[chunk])
        merged.merge(RegressionState.from_dict(part.to_dict()))
    assert regression_stderrs(merged) == regression_stderrs(one)


def test_a_state_written_before_the_higher_sums_were_kept_has_mae_stderr_only() -> None:
    state = RegressionState()
    state.update([1.0, 2.0, 3.0], [1.5, 2.5, 2.0])
    old = state.to_dict()
    del old["sum_fourth_power_error"], old["sum_squared_percentage_error"]
    assert sorted(regression_stderrs(RegressionState.from_dict(old))) == ["mae_stderr"]
