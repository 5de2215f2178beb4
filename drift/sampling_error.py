"""Standard errors of a window's realised performance metrics, from its mergeable state.

Alert rules ask whether a window's metric is *significantly* worse than the reference at
that window's sample size; these are the standard errors they use (docs/statistics.md,
"Sampling error"). Every formula reads the same counts and exact sums the metrics come
from, so merged states give the same standard errors as one state fed all the rows.

- accuracy, precision, recall (binomial proportions): the Agresti-Caffo "plus four"
  standard error, √(p̃(1-p̃)/(m+4)) with p̃ = (x+2)/(m+4), which stays above 0 at p = 0 or 1;
- F1 = 2a / (2a + b) (a true positives, b = false positives + false negatives): the delta
  method under multinomial sampling, 2√(a·b·(a+b)) / (2a+b)², with one pseudo-count added
  to a and to b;
- ROC AUC: DeLong's variance of the binned scores (exact for the binned AUC); a multiclass
  macro AUC √(Σ SEₖ²) / K (one-vs-rest AUCs taken as independent);
- multiclass macro precision, recall and F1: the delta method over the whole confusion
  matrix (multinomial sampling, the classes' covariances included);
- MAE, RMSE, MAPE: the sample standard deviation of |e|, e² or |e / y| over √n (RMSE by
  the delta method, SE(MSE) / (2·RMSE)).

Examples
--------
>>> from infersight.drift.performance import ClassificationState, RegressionState
>>> state = ClassificationState([0, 1])
>>> state.update([1] * 60 + [0] * 40, [1] * 50 + [0] * 10 + [0] * 35 + [1] * 5)
>>> errors = classification_stderrs(state)
>>> sorted(errors), round(errors["recall_stderr"], 3)
(['accuracy_stderr', 'f1_stderr', 'precision_stderr', 'recall_stderr'], 0.049)
>>> regression = RegressionState()
>>> regression.update([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 5.0])
>>> round(regression_stderrs(regression)["mae_stderr"], 4)
0.2394
"""

from __future__ import annotations

import math

import numpy as np

from .classification import ClassificationState
from .regression import RegressionState

__all__ = ["auc_stderr", "classification_stderrs", "f1_stderr", "proportion_stderr",
           "regression_stderrs"]


def proportion_stderr(successes: float, trials: float) -> float | None:
    """Agresti-Caffo standard error of ``successes / trials``; None without trials.

    >>> round(proportion_stderr(0, 20), 4)  # 0 of 20 still has an uncertainty
    0.0564
    """
    if trials <= 0:
        return None
    adjusted = (successes + 2.0) / (trials + 4.0)
    return math.sqrt(adjusted * (1.0 - adjusted) / (trials + 4.0))


def f1_stderr(true_positives: float, errors: float) -> float | None:
    """Delta-method standard error of F1 = 2a / (2a + b), ``errors`` = b = FP + FN.

    >>> round(f1_stderr(400, 200), 4)
    0.0138
    """
    if true_positives + errors <= 0:
        return None
    a, b = true_positives + 1.0, errors + 1.0
    return 2.0 * math.sqrt(a * b * (a + b)) / (2.0 * a + b) ** 2


def auc_stderr(positive_counts: np.ndarray, negative_counts: np.ndarray) -> float | None:
    """DeLong standard error of the ROC AUC of binned scores (exact for the binned AUC).

    Each positive's placement is the share of negatives scored below it (half for a shared
    bin), each negative's the share of positives above it; Var = S₁₀/n₁ + S₀₁/n₀ with S the
    sample variances of the placements (DeLong, DeLong & Clarke-Pearson, 1988).

    >>> round(auc_stderr(np.array([0, 10, 30, 60]), np.array([50, 30, 15, 5])), 4)
    0.0192
    """
    positive = np.asarray(positive_counts, dtype=np.float64)
    negative = np.asarray(negative_counts, dtype=np.float64)
    n1, n0 = float(positive.sum()), float(negative.sum())
    if n1 < 2 or n0 < 2:
        return None
    below = np.cumsum(negative) - negative  # negatives in lower bins
    above = n1 - np.cumsum(positive)  # positives in higher bins
    v10 = (below + 0.5 * negative) / n0  # placement of a positive in each bin
    v01 = (above + 0.5 * positive) / n1  # placement of a negative in each bin
    s10 = _weighted_variance(v10, positive)
    s01 = _weighted_variance(v01, negative)
    return math.sqrt(max(s10 / n1 + s01 / n0, 0.0))


def _weighted_variance(values: np.ndarray, counts: np.ndarray) -> float:
    """Sample variance of ``values`` repeated ``counts`` times."""
    n = float(counts.sum())
    mean = float(np.dot(values, counts)) / n
    return float(np.dot((values - mean) ** 2, counts)) / (n - 1.0)


def _macro_stderrs(matrix: np.ndarray, k: int) -> dict[str, float]:
    """Delta-method standard errors of macro precision, recall and F1 under multinomial
    sampling of the whole confusion matrix (``matrix``: true x predicted, "other" last).

    Each macro metric is homogeneous of degree 0 in the counts, so its variance is
    Σ g_ij² p_ij / n with g the gradient in count units times n.
    """
    counts = matrix.astype(np.float64)
    n = float(counts.sum())
    p = counts / n
    diagonal = np.diag(counts)[:k]
    rows, columns = counts[:k, :].sum(axis=1), counts[:, :k].sum(axis=0)
    out: dict[str, float] = {}
    for name in ("precision", "recall", "f1"):
        gradient = np.zeros_like(counts)
        defined = 0
        for c in range(k):
            denominator = {"precision": columns[c], "recall": rows[c],
                           "f1": rows[c] + columns[c]}[name]
            if denominator <= 0:
                continue
            defined += 1
            scale = 2.0 if name == "f1" else 1.0
            numerator = scale * diagonal[c]
            in_denominator = np.zeros_like(counts)
            if name in ("recall", "f1"):
                in_denominator[c, :] += 1.0
            if name in ("precision", "f1"):
                in_denominator[:, c] += 1.0
            gradient -= numerator * in_denominator / denominator**2
            gradient[c, c] += scale / denominator
        if defined:
            gradient *= n / defined
            out[f"{name}_stderr"] = math.sqrt(float(np.sum(gradient**2 * p)) / n)
    return out


def classification_stderrs(state: ClassificationState) -> dict[str, float]:
    """``accuracy_stderr``, ``precision_stderr``, ``recall_stderr``, ``f1_stderr`` and
    ``roc_auc_stderr`` of the metrics :func:`~infersight.drift.performance.classification_metrics`
    reports at model level (binary: the positive class; multiclass: macro averages). An
    undefined metric has no standard error."""
    matrix = state.confusion
    total = int(matrix.sum())
    if total == 0:
        return {}
    k = len(state.classes)
    correct = float(np.trace(matrix[:k, :k])) + state.other_agreement
    out: dict[str, float | None] = {"accuracy_stderr": proportion_stderr(correct, total)}
    if state.binary:
        i = state.classes.index(state.positive_label)
        tp = float(matrix[i, i])
        predicted, actual = float(matrix[:, i].sum()), float(matrix[i, :].sum())
        out["precision_stderr"] = proportion_stderr(tp, predicted) if predicted else None
        out["recall_stderr"] = proportion_stderr(tp, actual) if actual else None
        out["f1_stderr"] = f1_stderr(tp, predicted + actual - 2 * tp) if predicted + actual \
            else None
    else:
        out.update(_macro_stderrs(matrix, k))
    aucs = [auc_stderr(positive, scored - positive)
            for positive, scored in zip(state.score_positive, state.score_total, strict=True)]
    defined = [e for e in aucs if e is not None]
    if state.binary or len(defined) == len(aucs):  # macro: only over every class
        out["roc_auc_stderr"] = (math.sqrt(sum(e * e for e in defined)) / len(defined)
                                 if defined else None)
    return {name: value for name, value in out.items() if value is not None}


def regression_stderrs(state: RegressionState) -> dict[str, float]:
    """``mae_stderr``, ``rmse_stderr`` and ``mape_stderr`` (each needs two or more rows;
    RMSE and MAPE also the higher sums, absent from states written before they were kept)."""
    n = state.count
    if n < 2:
        return {}
    out: dict[str, float] = {}
    mae = state.sum_absolute_error / n
    out["mae_stderr"] = _mean_stderr(state.sum_squared_error, mae, n)
    fourth = state.sum_fourth_power_error
    mse = state.sum_squared_error / n
    if fourth is not None and mse > 0:
        out["rmse_stderr"] = _mean_stderr(fourth, mse, n) / (2.0 * math.sqrt(mse))
    squared_percentage = state.sum_squared_percentage_error
    m = state.percentage_count
    if squared_percentage is not None and m >= 2:
        mape = state.sum_absolute_percentage_error / m
        out["mape_stderr"] = _mean_stderr(squared_percentage, mape, m)
    return out


def _mean_stderr(sum_of_squares: float, mean: float, n: int) -> float:
    """Standard error of a mean from Σx² and the mean (sample variance, n - 1)."""
    variance = max(sum_of_squares - n * mean * mean, 0.0) / (n - 1)
    return math.sqrt(variance / n)
