"""Synthetic model streams for the alert-quality benches, shared by infersight's and the peers'.

A stream is a reference sample and a sequence of windows drawn from one seeded generator, so
``bench/alert_quality.py`` (infersight) and ``bench/alert_quality_peers.py`` (NannyML,
Evidently) judge exactly the same rows. Three model profiles:

- ``weak``: a binary classifier with ~30 % positives and F1 ≈ 0.6;
- ``strong``: a roughly balanced binary classifier with F1 ≈ 0.9;
- ``regression``: y = 20 + 3·z + ε, the model predicts 20 + 3·z (MAE ≈ 0.8).

Half the features carry the signal (z is their weighted sum, unit variance), the others are
nuisance inputs the model ignores. Scores are calibrated: P(y = 1 | x) is the score.

Changes (``Change``): label noise (a share of labels flipped: the scores no longer match the
outcomes, so realised F1 falls and the estimate does not), error scale (the regression residual
grows by a factor: MAE, RMSE and MAPE rise by that share), feature drift (``drifting``
features shifted by ``shift`` standard deviations: signal features move the scores, and with
them the real performance; nuisance features move the inputs only). A change starts at window
``at`` and grows linearly to its full size over ``ramp`` windows (1: abrupt).

>>> s = Scenario("x", "strong", rows=100, windows=3)
>>> reference = reference_sample(s, seed=1)
>>> reference.x.shape, sorted(set(reference.y.tolist()))
((20000, 10), [0, 1])
>>> [w.index for w in stream(s, seed=1)]
[0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import numpy as np

Profile = Literal["weak", "strong", "regression"]
Kind = Literal["labels", "errors", "drift"]
Aspect = Literal["inputs", "outputs", "performance", "concept", "retrain"]

REFERENCE_ROWS = 20_000
#: logit = slope · z + intercept, z ~ N(0, 1) before any drift.
LOGIT = {"weak": (1.7, -1.0), "strong": (5.0, 0.0)}
REGRESSION_SLOPE, REGRESSION_LEVEL, REGRESSION_NOISE = 3.0, 20.0, 1.0


@dataclass(frozen=True)
class Change:
    """What changes, by how much, from which window, over how many windows."""

    kind: Kind
    size: float
    """Labels: the F1 drop (points of F1, e.g. 0.025); errors: the relative MAE increase
    (0.1 = +10 %); drift: the shift in standard deviations."""
    at: int = 4
    ramp: int = 1
    drifting: int = 0
    signal: bool = True
    """Drift: whether the drifting features are signal features (else nuisance ones)."""
    drop: float = 0.0
    """Drift: a performance drop as well (F1 points, or the relative MAE increase)."""

    @property
    def changed(self) -> frozenset[Aspect]:
        """What moved: the inputs, the model's outputs (scores, predicted values), the
        realised performance, P(y|x) (``concept``), and both inputs and performance
        (``retrain``: what a retraining recommendation is for).

        >>> sorted(Change("drift", 0.5, drifting=4, signal=False).changed)
        ['inputs']
        """
        out: set[Aspect] = set()
        if self.kind in ("labels", "errors") or self.drop:
            out |= {"performance", "concept"}
        if self.kind == "drift":
            out.add("inputs")
            if self.signal:
                out |= {"outputs", "performance"}
        if {"inputs", "performance"} <= out:
            out.add("retrain")
        return frozenset(out)

    def fraction(self, index: int) -> float:
        """How much of the change is in force at window ``index`` (0 to 1)."""
        if index < self.at:
            return 0.0
        return min(1.0, (index - self.at + 1) / self.ramp)


@dataclass(frozen=True)
class Scenario:
    name: str
    profile: Profile
    rows: int
    features: int = 10
    windows: int = 40
    change: Change | None = None
    tags: tuple[str, ...] = field(default=())
    """Which targets this scenario checks (see the benches' ``TARGETS``)."""

    @property
    def task(self) -> str:
        return "regression" if self.profile == "regression" else "binary"


@dataclass(frozen=True)
class Sample:
    """Rows of one window (or the reference): features, model output, labels."""

    index: int
    x: np.ndarray
    prediction: np.ndarray
    """Binary: the calibrated score of class 1; regression: the predicted value."""
    y: np.ndarray
    fraction: float = 0.0
    """How much of the scenario's change is in force in these rows."""

    def columns(self) -> dict[str, np.ndarray]:
        return {name: self.x[:, i] for i, name in enumerate(feature_names(self.x.shape[1]))}


def feature_names(n: int) -> list[str]:
    return [f"f{i}" for i in range(n)]


def signal_features(n: int) -> int:
    return max(1, (n + 1) // 2)


def _weights(n: int) -> np.ndarray:
    w = np.linspace(1.0, 0.2, signal_features(n))
    return w / np.linalg.norm(w)


def _draw(rng: np.random.Generator, profile: Profile, rows: int, n: int, shift: np.ndarray,
          flip: float, error_scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rng.normal(size=(rows, n)) + shift
    z = x[:, : signal_features(n)] @ _weights(n)
    if profile == "regression":
        prediction = REGRESSION_LEVEL + REGRESSION_SLOPE * z
        y = prediction + rng.normal(scale=REGRESSION_NOISE * error_scale, size=rows)
        return x, prediction, y
    slope, intercept = LOGIT[profile]
    score = 1.0 / (1.0 + np.exp(-(slope * z + intercept)))
    y = (rng.random(rows) < score).astype(np.int64)
    if flip:
        y = np.where(rng.random(rows) < flip, 1 - y, y)
    return x, score, y


def _shift(scenario: Scenario, fraction: float) -> np.ndarray:
    shift = np.zeros(scenario.features)
    change = scenario.change
    if change is None or change.kind != "drift" or not fraction:
        return shift
    n, k = scenario.features, change.drifting
    columns = range(k) if change.signal else range(n - k, n)
    sign = -1.0 if change.signal else 1.0  # signal features down: fewer positives
    shift[list(columns)] = sign * change.size * fraction
    return shift


def _f1_after_flip(profile: str, flip: float) -> float:
    """Expected F1 of the profile's decisions (score ≥ 0.5) when ``flip`` of labels flip."""
    score = _large_scores(profile)
    predicted = score >= 0.5
    tp, fp = float(np.sum(score[predicted])), float(np.sum(1 - score[predicted]))
    fn, tn = float(np.sum(score[~predicted])), float(np.sum(1 - score[~predicted]))
    tp, fp, fn = (tp * (1 - flip) + fp * flip, fp * (1 - flip) + tp * flip,
                  fn * (1 - flip) + tn * flip)
    return 2 * tp / (2 * tp + fp + fn)


@cache
def _large_scores(profile: str) -> np.ndarray:
    slope, intercept = LOGIT[profile]
    z = np.random.default_rng(0).normal(size=400_000)
    return 1.0 / (1.0 + np.exp(-(slope * z + intercept)))


@cache
def flip_for_drop(profile: str, drop: float) -> float:
    """The share of flipped labels that lowers the profile's expected F1 by ``drop``."""
    base, low, high = _f1_after_flip(profile, 0.0), 0.0, 0.5
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if base - _f1_after_flip(profile, middle) < drop \
            else (low, middle)
    return (low + high) / 2


def _flip(scenario: Scenario, fraction: float) -> float:
    change = scenario.change
    if change is None or not fraction:
        return 0.0
    if change.kind == "labels":
        return flip_for_drop(scenario.profile, change.size * fraction)
    if change.kind == "drift" and change.drop and scenario.profile != "regression":
        return flip_for_drop(scenario.profile, change.drop * fraction)
    return 0.0


def _error_scale(scenario: Scenario, fraction: float) -> float:
    change = scenario.change
    if change is None or scenario.profile != "regression":
        return 1.0
    if change.kind == "errors":
        return 1.0 + change.size * fraction
    return 1.0 + change.drop * fraction if change.kind == "drift" else 1.0


def reference_sample(scenario: Scenario, seed: int) -> Sample:
    """The reference (validation) rows of the scenario's model: unchanged traffic."""
    rng = np.random.default_rng([seed, 0])
    rows = max(REFERENCE_ROWS, 10 * scenario.rows)
    x, prediction, y = _draw(rng, scenario.profile, rows, scenario.features,
                             np.zeros(scenario.features), 0.0, 1.0)
    return Sample(-1, x, prediction, y)


def stream(scenario: Scenario, seed: int) -> Iterator[Sample]:
    """The scenario's windows in order, each drawn from its own seeded generator."""
    for index in range(scenario.windows):
        fraction = scenario.change.fraction(index) if scenario.change else 0.0
        rng = np.random.default_rng([seed, 1, index])
        x, prediction, y = _draw(rng, scenario.profile, scenario.rows, scenario.features,
                                 _shift(scenario, fraction), _flip(scenario, fraction),
                                 _error_scale(scenario, fraction))
        yield Sample(index, x, prediction, y, fraction)
