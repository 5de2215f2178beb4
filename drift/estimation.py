"""Label-free performance estimation: Confidence-Based Performance Estimation (CBPE).

A binary classifier's scores, calibrated on labelled reference data, give the probability
that each row is positive. Summed over a window's score histogram these probabilities give
the expected confusion matrix, hence precision, recall, F1 and ROC AUC, before any label
arrives. This holds only while the calibration holds: CBPE cannot see concept drift (a
change of P(label | score)), only the effect of a changed score distribution.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> scores = rng.beta(2, 2, 20_000)
>>> labels = (rng.random(20_000) < scores).astype(int)      # a calibrated model
>>> cbpe = CBPE.fit(scores, labels, positive_label=1)
>>> from infersight.drift.performance import score_histogram
>>> estimate = cbpe.estimate(score_histogram(rng.beta(2, 2, 5_000)))
>>> round(estimate["estimated_precision"], 2), estimate["estimated_precision_stderr"] < 0.01
(0.69, True)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import isotonic_regression

from .scores import SCORE_BINS, SCORE_EDGES, binned_roc_auc, score_bin_index

__all__ = ["CBPE"]


def _threshold_weights(threshold: float) -> np.ndarray:
    """Share of each bin predicted positive (score >= threshold), scores uniform within a bin."""
    index = int(score_bin_index([threshold])[0])
    weights = np.zeros(SCORE_BINS)
    weights[index + 1 :] = 1.0
    low, high = SCORE_EDGES[index], SCORE_EDGES[index + 1]
    weights[index] = (high - threshold) / (high - low)
    return weights


def _positive_mask(labels: ArrayLike, positive_label: Hashable) -> np.ndarray:
    values = labels.to_numpy() if hasattr(labels, "to_numpy") else labels
    array = (
        np.asarray(values) if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    )
    if array.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {array.shape}")
    return np.fromiter((bool(v == positive_label) for v in array.tolist()), bool, len(array))


def _stderr(variance: float) -> float:
    return math.sqrt(max(variance, 0.0))


class CBPE:
    """Confidence-Based Performance Estimation for a binary classifier.

    Build it with :meth:`fit`. ``calibration[b]`` is the fitted P(label = positive | score
    in bin b): isotonic (non-decreasing) regression of the reference's positive rate per
    score bin, weighted by the bin's rows, linearly interpolated over empty bins.
    A row is predicted positive when its score is >= ``threshold``; in the bin that holds
    the threshold, scores are taken as uniform within the bin.

    Examples
    --------
    >>> cbpe = CBPE.fit([0.1, 0.2, 0.8, 0.9], [0, 1, 0, 1], positive_label=1)
    >>> cbpe.calibration[[10, 20, 80, 90]].tolist()
    [0.0, 0.5, 0.5, 1.0]
    >>> CBPE.from_dict(cbpe.to_dict()) == cbpe
    True
    """

    def __init__(
        self,
        calibration: ArrayLike,
        positive_label: Hashable,
        threshold: float = 0.5,
        reference_count: int = 0,
    ) -> None:
        curve = np.asarray(calibration, dtype=np.float64)
        if curve.shape != (SCORE_BINS,):
            raise ValueError(f"calibration must have {SCORE_BINS} values, got shape {curve.shape}")
        if not (np.isfinite(curve).all() and (curve >= 0).all() and (curve <= 1).all()):
            raise ValueError("calibration values must be probabilities in [0, 1]")
        if (np.diff(curve) < 0).any():
            raise ValueError("calibration must be non-decreasing in the score")
        valid = isinstance(threshold, int | float) and not isinstance(threshold, bool)
        if not (valid and 0.0 <= threshold <= 1.0):
            raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
        if isinstance(positive_label, np.generic):
            positive_label = positive_label.item()
        self.calibration: np.ndarray = curve
        self.positive_label: Hashable = positive_label
        self.threshold: float = float(threshold)
        self.reference_count: int = int(reference_count)
        self._predicted_positive = _threshold_weights(self.threshold)

    @classmethod
    def fit(
        cls, scores: ArrayLike, labels: ArrayLike, positive_label: Hashable, threshold: float = 0.5
    ) -> CBPE:
        """Calibrate P(positive | score bin) on reference scores and labels.

        Raises ``ValueError`` when the input is unusable: scores that are not finite
        numbers, lengths that differ, or labels with no positive or no negative row.
        """
        bins = score_bin_index(np.ravel(np.asarray(scores, dtype=np.float64)))
        positive = _positive_mask(labels, positive_label)
        if positive.shape != bins.shape:
            raise ValueError(f"scores have {bins.size} rows but labels have {positive.size}")
        if positive.all() or not positive.any():
            raise ValueError(
                f"calibration needs both positive ({positive_label!r}) and negative reference labels"
            )
        rows = np.bincount(bins, minlength=SCORE_BINS).astype(np.float64)
        hits = np.bincount(bins[positive], minlength=SCORE_BINS).astype(np.float64)
        filled = np.flatnonzero(rows)
        fitted = isotonic_regression(hits[filled] / rows[filled], weights=rows[filled]).x
        centres = (SCORE_EDGES[:-1] + SCORE_EDGES[1:]) / 2
        curve = np.clip(np.interp(centres, centres[filled], fitted), 0.0, 1.0)
        return cls(curve, positive_label, threshold, reference_count=int(bins.size))

    def calibrated_probability(self, scores: ArrayLike) -> np.ndarray:
        """P(positive) of each score under the calibration.

        Examples
        --------
        >>> CBPE.fit([0.1, 0.9], [0, 1], 1).calibrated_probability([0.05, 0.95]).tolist()
        [0.0, 1.0]
        """
        probabilities: np.ndarray = self.calibration[score_bin_index(scores)]
        return probabilities

    def estimate(self, score_counts: ArrayLike) -> dict[str, float]:
        """Estimated precision, recall, F1 and ROC AUC from a window's score histogram.

        ``score_counts``: counts over ``SCORE_BINS`` (``score_histogram`` of the window).
        Returns ``estimated_precision``, ``estimated_recall``, ``estimated_f1``,
        ``estimated_roc_auc`` and each one's ``*_stderr``; a metric that is undefined
        (e.g. precision when no score reaches the threshold) is left out; an empty
        histogram gives an empty dict.

        Each row's label is taken as an independent Bernoulli(p) draw with p its calibrated
        probability. Expected counts: TP = Σ c·w·p, FP = Σ c·w·(1-p), FN = Σ c·(1-w)·p
        (c rows per bin, w the bin's predicted-positive share). Standard errors are those
        of the realised metric under that label noise, with the window's scores fixed:
        precision exactly (Var TP = Σ c·w·p(1-p) over a fixed number of predicted
        positives), recall, F1 and ROC AUC by the delta method. They leave out the error
        of the calibration itself (fitted on the reference) and any concept drift.
        """
        counts = np.asarray(score_counts, dtype=np.float64)
        if counts.shape != (SCORE_BINS,):
            raise ValueError(f"score_counts must have {SCORE_BINS} bins, got shape {counts.shape}")
        if not (np.isfinite(counts).all() and (counts >= 0).all()):
            raise ValueError("score_counts must be finite non-negative counts")
        if counts.sum() <= 0:
            return {}
        p, w = self.calibration, self._predicted_positive
        noise = counts * p * (1 - p)
        tp, fp, fn = (
            float(np.sum(counts * w * p)),
            float(np.sum(counts * w * (1 - p))),
            float(np.sum(counts * (1 - w) * p)),
        )
        var_tp, var_fn = float(np.sum(noise * w)), float(np.sum(noise * (1 - w)))
        predicted_positive, actual_positive = tp + fp, tp + fn
        result: dict[str, float] = {}
        if predicted_positive > 0:
            result["estimated_precision"] = tp / predicted_positive
            result["estimated_precision_stderr"] = _stderr(var_tp) / predicted_positive
        if actual_positive > 0:
            result["estimated_recall"] = tp / actual_positive
            spread = fn**2 * var_tp + tp**2 * var_fn
            result["estimated_recall_stderr"] = _stderr(spread) / actual_positive**2
        f1_denominator = actual_positive + predicted_positive
        if f1_denominator > 0:
            result["estimated_f1"] = 2 * tp / f1_denominator
            spread = (fn + predicted_positive) ** 2 * var_tp + tp**2 * var_fn
            result["estimated_f1_stderr"] = 2 * _stderr(spread) / f1_denominator**2
        auc = self._roc_auc(counts)
        if auc is not None:
            result["estimated_roc_auc"], result["estimated_roc_auc_stderr"] = auc
        return result

    def _roc_auc(self, counts: np.ndarray) -> tuple[float, float] | None:
        """Expected binned ROC AUC and its delta-method standard error."""
        positives = counts * self.calibration
        negatives = counts - positives
        auc = binned_roc_auc(positives, negatives)
        if auc is None:
            return None
        total_positive, total_negative = float(positives.sum()), float(negatives.sum())
        pairs = total_positive * total_negative
        negatives_below = np.concatenate(([0.0], np.cumsum(negatives)[:-1]))
        positives_above = positives.sum() - np.cumsum(positives)
        # d U / d Y_b, with U the Mann-Whitney count and Y_b the positives of bin b
        du = negatives_below + 0.5 * negatives - 0.5 * positives - positives_above
        gradient = du / pairs - auc * pairs * (total_negative - total_positive) / pairs**2
        variance = float(np.sum(gradient**2 * counts * self.calibration * (1 - self.calibration)))
        return auc, _stderr(variance)

    def to_dict(self) -> dict[str, Any]:
        """A JSON- and msgpack-safe dict."""
        return {
            "kind": "cbpe",
            "positive_label": self.positive_label,
            "threshold": self.threshold,
            "calibration": self.calibration.tolist(),
            "reference_count": self.reference_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CBPE:
        """Rebuild from :meth:`to_dict` output; ``ValueError`` if it is malformed."""
        try:
            return cls(
                data["calibration"],
                data["positive_label"],
                data.get("threshold", 0.5),
                reference_count=int(data.get("reference_count", 0)),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed CBPE state: {error!r}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CBPE):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CBPE(positive_label={self.positive_label!r}, threshold={self.threshold})"
