"""CBPE: calibration against scikit-learn's isotonic regression, estimates against realised metrics.

The simulated model is calibrated by construction: each label is a Bernoulli(score) draw.
Realised metrics are computed by scikit-learn on the sampled labels of the window.
"""

from __future__ import annotations

import json

import msgspec
import numpy as np
import pytest
from infersight.drift.estimation import CBPE
from infersight.drift.performance import SCORE_BINS, score_bin_index, score_histogram
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

METRICS = ("precision", "recall", "f1", "roc_auc")
SEEDS = 20
MIN_COVERED = 18  # of 20 seeds within 3 standard errors (each is expected with p ≈ 0.997)


def _calibrated_sample(
    rng: np.random.Generator, a: float, b: float, rows: int
) -> tuple[np.ndarray, np.ndarray]:
    scores = rng.beta(a, b, rows)
    return scores, (rng.random(rows) < scores).astype(int)


def _realised(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    predicted = (scores >= threshold).astype(int)
    return {
        "precision": precision_score(labels, predicted),
        "recall": recall_score(labels, predicted),
        "f1": f1_score(labels, predicted),
        "roc_auc": roc_auc_score(labels, scores),
    }


def test_calibration_equals_scikit_learn_isotonic_regression_on_binned_scores() -> None:
    rng = np.random.default_rng(0)
    scores = rng.beta(2, 2, 20_000)
    labels = (rng.random(scores.size) < scores**1.5).astype(int)  # not calibrated: needs fitting
    cbpe = CBPE.fit(scores, labels, positive_label=1)
    bins = score_bin_index(scores)
    expected = IsotonicRegression(increasing=True).fit(bins, labels).predict(np.arange(SCORE_BINS))
    filled = np.unique(bins)
    np.testing.assert_allclose(cbpe.calibration[filled], expected[filled], rtol=0, atol=1e-12)
    assert (np.diff(cbpe.calibration) >= 0).all()


def test_estimates_are_within_three_standard_errors_of_realised_metrics() -> None:
    """Reference Beta(2, 2), window shifted to Beta(2, 4); 20 seeds, each its own reference.

    Check: for every metric, at least 18 of 20 seeds fall within 3 standard errors of the
    realised value, and the root mean square of the z-scores lies in [0.6, 1.6] (standard
    errors neither far too small nor far too large).
    """
    z_scores: dict[str, list[float]] = {name: [] for name in METRICS}
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        cbpe = CBPE.fit(*_calibrated_sample(rng, 2, 2, 50_000), positive_label=1)
        scores, labels = _calibrated_sample(rng, 2, 4, 5_000)
        estimate = cbpe.estimate(score_histogram(scores))
        realised = _realised(scores, labels)
        for name in METRICS:
            error = estimate[f"estimated_{name}"] - realised[name]
            z_scores[name].append(error / estimate[f"estimated_{name}_stderr"])
    for name, values in z_scores.items():
        z = np.abs(values)
        assert (z <= 3).sum() >= MIN_COVERED, (name, values)
        assert 0.6 <= float(np.sqrt(np.mean(z**2))) <= 1.6, (name, values)


def test_estimated_precision_drops_when_the_score_shift_lowers_realised_precision() -> None:
    rng = np.random.default_rng(1)
    cbpe = CBPE.fit(*_calibrated_sample(rng, 2, 2, 50_000), positive_label=1)
    before_scores, before_labels = _calibrated_sample(rng, 2, 2, 20_000)
    after_scores, after_labels = _calibrated_sample(rng, 8, 8, 20_000)  # crowded near 0.5
    realised_before = _realised(before_scores, before_labels)["precision"]
    realised_after = _realised(after_scores, after_labels)["precision"]
    estimated_before = cbpe.estimate(score_histogram(before_scores))["estimated_precision"]
    estimated_after = cbpe.estimate(score_histogram(after_scores))["estimated_precision"]
    assert realised_before - realised_after > 0.05
    assert estimated_before - estimated_after > 0.05
    assert estimated_before - estimated_after == pytest.approx(
        realised_before - realised_after, abs=0.03
    )


def test_concept_drift_is_invisible_to_cbpe() -> None:
    """Documented limitation: same scores, flipped P(label | score), same estimate."""
    rng = np.random.default_rng(2)
    cbpe = CBPE.fit(*_calibrated_sample(rng, 2, 2, 50_000), positive_label=1)
    scores, labels = _calibrated_sample(rng, 2, 2, 20_000)
    flipped = 1 - labels
    estimate = cbpe.estimate(score_histogram(scores))["estimated_precision"]
    assert estimate == pytest.approx(_realised(scores, labels)["precision"], abs=0.03)
    assert _realised(scores, flipped)["precision"] < estimate - 0.3


def test_threshold_inside_a_bin_and_string_labels() -> None:
    rng = np.random.default_rng(3)
    scores, labels = _calibrated_sample(rng, 1, 1, 100_000)
    names = np.array(["ok", "fraud"], dtype=object)[labels]
    cbpe = CBPE.fit(scores, names, positive_label="fraud", threshold=0.375)
    window_scores, window_labels = _calibrated_sample(rng, 1, 1, 100_000)
    estimate = cbpe.estimate(score_histogram(window_scores))
    realised = _realised(window_scores, window_labels, threshold=0.375)
    for name in METRICS:
        assert estimate[f"estimated_{name}"] == pytest.approx(realised[name], abs=0.01), name


def test_undefined_estimates_are_left_out() -> None:
    rng = np.random.default_rng(4)
    cbpe = CBPE.fit(*_calibrated_sample(rng, 2, 2, 10_000), positive_label=1)
    assert cbpe.estimate(np.zeros(SCORE_BINS)) == {}
    low = cbpe.estimate(score_histogram(rng.uniform(0.0, 0.3, 1000)))
    assert "estimated_precision" not in low  # no score reaches the threshold
    assert "estimated_recall" in low and low["estimated_recall"] == 0.0
    assert all(np.isfinite(v) for v in low.values())


def test_round_trip_through_json_and_msgpack() -> None:
    rng = np.random.default_rng(5)
    cbpe = CBPE.fit(*_calibrated_sample(rng, 2, 2, 10_000), positive_label=1, threshold=0.3)
    counts = score_histogram(rng.beta(2, 3, 2000))
    for data in (
        json.loads(json.dumps(cbpe.to_dict())),
        msgspec.msgpack.decode(msgspec.msgpack.encode(cbpe.to_dict())),
    ):
        copy = CBPE.from_dict(data)
        assert copy == cbpe
        assert copy.estimate(counts) == cbpe.estimate(counts)


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.9], [1, 1], "both positive"),
        ([0.1, 0.9], [0, 0], "both positive"),
        ([0.1, float("nan")], [0, 1], "finite"),
        ([0.1, 0.9, 0.5], [0, 1], "rows"),
        ([0.1, 0.9], [[0], [1]], "one-dimensional"),
    ],
)
def test_fit_rejects_unusable_reference(scores: list[float], labels: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CBPE.fit(scores, labels, positive_label=1)  # type: ignore[arg-type]


def test_bad_histograms_and_states_are_rejected() -> None:
    cbpe = CBPE.fit([0.1, 0.9], [0, 1], positive_label=1)
    for counts in (np.ones(10), -np.ones(SCORE_BINS), np.full(SCORE_BINS, np.nan)):
        with pytest.raises(ValueError, match="score_counts"):
            cbpe.estimate(counts)
    good = cbpe.to_dict()
    for damage in (
        {"calibration": [0.5] * 10},
        {"calibration": list(np.linspace(1, 0, SCORE_BINS))},
        {"calibration": [1.5] * SCORE_BINS},
        {"threshold": 2.0},
        {"threshold": "high"},
        {"threshold": True},
    ):
        with pytest.raises(ValueError):
            CBPE.from_dict(good | damage)
    with pytest.raises(ValueError, match="malformed"):
        CBPE.from_dict({"threshold": 0.5})
