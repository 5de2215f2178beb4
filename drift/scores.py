"""Classifier score histograms: the fixed bins of [0, 1] that scores are counted in, and
ROC AUC computed from such histograms.

Examples
--------
>>> positives = score_histogram([0.62, 0.91, 0.48])
>>> negatives = score_histogram([0.11, 0.35, 0.48])
>>> binned_roc_auc(positives, negatives)  # the pair sharing bin 48 counts 1/2
0.9444444444444444
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "SCORE_BINS",
    "SCORE_EDGES",
    "binned_roc_auc",
    "finite_floats",
    "score_bin_index",
    "score_histogram",
]

SCORE_BINS: int = 100
"""Number of uniform score bins over [0, 1]; scores are clipped into [0, 1] first."""

SCORE_EDGES: np.ndarray = np.linspace(0.0, 1.0, SCORE_BINS + 1)
"""Bin edges: bin ``i`` holds ``SCORE_EDGES[i] <= s < SCORE_EDGES[i + 1]`` (the last bin includes 1)."""


def finite_floats(values: ArrayLike, what: str = "scores") -> np.ndarray:
    """``values`` as a float64 array; ``ValueError`` naming ``what`` if any is not a finite number.

    Examples
    --------
    >>> finite_floats([1, 2.5]).tolist()
    [1.0, 2.5]
    >>> finite_floats([0.1, float("nan")], "y_true")
    Traceback (most recent call last):
    ...
    ValueError: y_true must be finite (found NaN or infinity)
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be numbers: {error}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must be finite (found NaN or infinity)")
    return array


def score_bin_index(scores: ArrayLike) -> np.ndarray:
    """Bin index in ``range(SCORE_BINS)`` of each score, after clipping it into [0, 1].

    The same rule as ``numpy.histogram(scores, SCORE_EDGES)``.

    Examples
    --------
    >>> score_bin_index([-3.0, 0.0, 0.005, 0.29, 0.5, 1.0, 7.0]).tolist()
    [0, 0, 0, 29, 50, 99, 99]
    """
    clipped = np.clip(finite_floats(scores), 0.0, 1.0)
    index = np.searchsorted(SCORE_EDGES, clipped, side="right") - 1
    result: np.ndarray = np.minimum(index, SCORE_BINS - 1).astype(np.intp)
    return result


def score_histogram(scores: ArrayLike) -> np.ndarray:
    """Counts (int64) of the scores over the ``SCORE_BINS`` uniform bins of [0, 1].

    Raises ``ValueError`` on NaN or infinite scores.

    Examples
    --------
    >>> counts = score_histogram([0.051, 0.057, 0.5, 1.0])
    >>> counts.shape, counts[5].item(), counts[50].item(), counts[99].item(), counts.sum().item()
    ((100,), 2, 1, 1, 4)
    """
    index = score_bin_index(np.ravel(finite_floats(scores)))
    return np.bincount(index, minlength=SCORE_BINS).astype(np.int64)


def binned_roc_auc(positive_counts: ArrayLike, negative_counts: ArrayLike) -> float | None:
    """ROC AUC from positive and negative score histograms; ``None`` when undefined.

    The Mann-Whitney statistic over binned scores: a (positive, negative) pair counts 1 when
    the positive is in a higher bin, 1/2 when both share a bin. Counts may be fractional.

    Examples
    --------
    >>> binned_roc_auc([0, 1, 2], [2, 1, 0])  # (2*1 + 1*1/2 + 2*3) / (3*3)
    0.9444444444444444
    >>> binned_roc_auc([0, 3, 0], [0, 0, 0]) is None
    True
    """
    positive = np.asarray(positive_counts, dtype=np.float64)
    negative = np.asarray(negative_counts, dtype=np.float64)
    total_positive, total_negative = float(positive.sum()), float(negative.sum())
    if total_positive <= 0 or total_negative <= 0:
        return None
    if np.issubdtype(np.asarray(positive_counts).dtype, np.integer) and np.issubdtype(
        np.asarray(negative_counts).dtype, np.integer
    ):  # exact integer arithmetic (Python ints cannot overflow)
        pos, neg = np.asarray(positive_counts).tolist(), np.asarray(negative_counts).tolist()
        twice_u, below_count = 0, 0
        for p, n in zip(pos, neg, strict=True):
            twice_u += p * (2 * below_count + n)
            below_count += n
        auc: float = twice_u / (2 * sum(pos) * sum(neg))
        return auc
    below = np.concatenate(([0.0], np.cumsum(negative)[:-1]))
    u = float(np.sum(positive * (below + 0.5 * negative)))
    return u / (total_positive * total_negative)

