"""Labelled performance: mergeable classification and regression state, and their metrics.

A window's labelled outcomes are kept as integer counts (a confusion matrix and score
histograms) or exact sums, so states of any windows or partitions merge by addition and
give the same metrics as one state fed all the rows, bit for bit. The code lives in
:mod:`~infersight.drift.classification`, :mod:`~infersight.drift.regression` and
:mod:`~infersight.drift.scores`; this module gathers their public names.

Examples
--------
>>> state = ClassificationState(classes=[0, 1])
>>> state.update([0, 1, 1, 0], [0, 1, 0, 0], scores=[0.1, 0.9, 0.4, 0.3])
>>> metrics = classification_metrics(state)
>>> metrics["accuracy"], metrics["recall"], metrics["roc_auc"]
(0.75, 0.5, 1.0)
"""

from __future__ import annotations

from .classification import ClassificationState, classification_metrics
from .regression import RegressionState, regression_metrics
from .scores import SCORE_BINS, SCORE_EDGES, binned_roc_auc, score_bin_index, score_histogram

__all__ = [
    "SCORE_BINS",
    "SCORE_EDGES",
    "ClassificationState",
    "RegressionState",
    "binned_roc_auc",
    "classification_metrics",
    "regression_metrics",
    "score_bin_index",
    "score_histogram",
]
