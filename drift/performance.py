"""Labelled performance: mergeable classification and regression state, and their metrics.

A window's labelled outcomes are kept as integer counts (a confusion matrix and score
histograms) or exact sums, so states of any windows or partitions merge by addition and
give the same metrics as one state fed all the rows, bit for bit.

Examples
--------
>>> state = ClassificationState(classes=[0, 1])
>>> state.update([0, 1, 1, 0], [0, 1, 0, 0], scores=[0.1, 0.9, 0.4, 0.3])
>>> metrics = classification_metrics(state)
>>> metrics["accuracy"], metrics["recall"], metrics["roc_auc"]
(0.75, 0.5, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

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

SCORE_BINS: int = 100
"""Number of uniform score bins over [0, 1]; scores are clipped into [0, 1] first."""

SCORE_EDGES: np.ndarray = np.linspace(0.0, 1.0, SCORE_BINS + 1)
"""Bin edges: bin ``i`` holds ``SCORE_EDGES[i] <= s < SCORE_EDGES[i + 1]`` (the last bin includes 1)."""


def _finite_scores(scores: ArrayLike, what: str = "scores") -> np.ndarray:
    try:
        array = np.asarray(scores, dtype=np.float64)
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
    clipped = np.clip(_finite_scores(scores), 0.0, 1.0)
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
    index = score_bin_index(np.ravel(_finite_scores(scores)))
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


# ---------------------------------------------------------------- labels


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _check_class(value: Any) -> Hashable:
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"class labels must be finite, got {value!r}")
    if not isinstance(value, str | int | float):  # bool is an int
        raise ValueError(
            f"class labels must be str, int, float or bool (JSON-safe), got {type(value).__name__}"
        )
    return value


def _label_array(values: ArrayLike, what: str) -> np.ndarray:
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        array = values
    else:  # keep mixed Python values as they are (np.asarray would turn 1 into "1")
        items = list(values)  # type: ignore[arg-type]
        array = np.empty(len(items), dtype=object)
        array[:] = items
    if array.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {array.shape}")
    return array


def _count_equal(left: np.ndarray, right: np.ndarray) -> int:
    try:
        equal = np.asarray(left == right, dtype=bool)
        if equal.shape == left.shape:
            return int(equal.sum())
    except (TypeError, ValueError):
        pass
    return sum(bool(a == b) for a, b in zip(left.tolist(), right.tolist(), strict=True))


class ClassificationState:
    """Mergeable labelled-outcome state of a binary or multiclass classifier.

    Parameters
    ----------
    classes
        The classes known from the reference, in a fixed order (score columns follow it).
        Labels not among them are counted in an extra "other" slot.
    positive_label
        Binary models only (exactly two classes): the positive class. Defaults to the
        second class, e.g. ``1`` for ``[0, 1]``.

    Holds a confusion matrix (true x predicted, with the "other" slot last) and, per scored
    class (binary: the positive class; multiclass: every class, one-vs-rest), two score
    histograms over ``SCORE_BINS``: rows whose true label is that class, and all rows.

    Examples
    --------
    >>> a = ClassificationState(["cat", "dog", "eel"])
    >>> a.update(["cat", "dog"], ["cat", "eel"])
    >>> b = ClassificationState.from_dict(a.to_dict())
    >>> b.update(["fox"], ["cat"])          # an unseen label goes to "other"
    >>> a.merge(b)
    >>> a.count, a.other_count
    (5, 1)
    """

    def __init__(self, classes: Sequence[Hashable], positive_label: Hashable | None = None) -> None:
        if isinstance(classes, str | bytes) or not isinstance(classes, Sequence | np.ndarray):
            raise ValueError("classes must be a sequence of labels")
        self.classes: tuple[Hashable, ...] = tuple(_check_class(c) for c in classes)
        if not self.classes:
            raise ValueError("classes must not be empty")
        self._index: dict[Hashable, int] = {c: i for i, c in enumerate(self.classes)}
        if len(self._index) != len(self.classes):
            raise ValueError(f"classes must be distinct, got {list(self.classes)!r}")
        self.binary: bool = len(self.classes) == 2
        if positive_label is not None:
            positive_label = _plain(positive_label)
            if not self.binary:
                raise ValueError("positive_label applies to binary models (exactly two classes)")
            if positive_label not in self._index:
                raise ValueError(
                    f"positive_label {positive_label!r} is not one of {list(self.classes)!r}"
                )
        elif self.binary:
            positive_label = self.classes[1]
        self.positive_label: Hashable | None = positive_label
        size = len(self.classes) + 1
        scored = 1 if self.binary else len(self.classes)
        self.confusion: np.ndarray = np.zeros((size, size), dtype=np.int64)
        # rows whose true and predicted labels are the same label unseen in the reference
        self.other_agreement: int = 0
        self.score_positive: np.ndarray = np.zeros((scored, SCORE_BINS), dtype=np.int64)
        self.score_total: np.ndarray = np.zeros((scored, SCORE_BINS), dtype=np.int64)

    @property
    def count(self) -> int:
        """Number of labelled rows."""
        return int(self.confusion.sum())

    @property
    def other_count(self) -> int:
        """Rows whose true or predicted label is not among ``classes``."""
        return int(self.confusion[-1, :].sum() + self.confusion[:-1, -1].sum())

    @property
    def scored_classes(self) -> tuple[Hashable, ...]:
        """Classes with score histograms (rows of ``score_positive`` / ``score_total``)."""
        return (self.positive_label,) if self.binary else self.classes

    def _slots(self, values: np.ndarray) -> np.ndarray:
        other = len(self.classes)
        try:
            if values.dtype != object:
                uniques, inverse = np.unique(values, return_inverse=True)
                lookup = np.array(
                    [self._index.get(u, other) for u in uniques.tolist()], dtype=np.intp
                )
                return lookup[inverse.ravel()]
            return np.fromiter((self._index.get(v, other) for v in values), np.intp, len(values))
        except TypeError as error:  # unhashable labels such as lists
            raise ValueError(f"labels must be hashable scalars: {error}") from None

    def _score_matrix(self, scores: ArrayLike, rows: int) -> np.ndarray:
        array = _finite_scores(scores)
        k = len(self.classes)
        if self.binary and array.ndim == 2 and array.shape == (rows, 2):
            array = array[:, self._index[self.positive_label]]
        if self.binary:
            if array.shape != (rows,):
                raise ValueError(
                    f"binary scores must be P(positive) with shape ({rows},) or ({rows}, 2), got {array.shape}"
                )
            return array[:, None]
        if array.shape != (rows, k):
            raise ValueError(f"multiclass scores must have shape ({rows}, {k}), got {array.shape}")
        return array

    def update(self, y_true: ArrayLike, y_pred: ArrayLike, scores: ArrayLike | None = None) -> None:
        """Add labelled rows: true labels, predicted labels and optionally scores.

        ``scores``: binary, P(positive) per row (or an (n, 2) matrix aligned with
        ``classes``); multiclass, an (n, k) matrix of class probabilities aligned with
        ``classes``. Scores are clipped into [0, 1]. Nothing is added if the input is bad.
        """
        truth, predicted = _label_array(y_true, "y_true"), _label_array(y_pred, "y_pred")
        if len(truth) != len(predicted):
            raise ValueError(f"y_true has {len(truth)} rows but y_pred has {len(predicted)}")
        rows = len(truth)
        if rows == 0:
            return
        score_bins = None
        if scores is not None:
            score_bins = score_bin_index(self._score_matrix(scores, rows))
        true_slot, pred_slot = self._slots(truth), self._slots(predicted)
        size = len(self.classes) + 1
        flat = np.bincount(true_slot * size + pred_slot, minlength=size * size)
        self.confusion += flat.reshape(size, size).astype(np.int64)
        both_other = np.flatnonzero((true_slot == size - 1) & (pred_slot == size - 1))
        self.other_agreement += _count_equal(truth[both_other], predicted[both_other])
        if score_bins is None:
            return
        for column, label in enumerate(self.scored_classes):
            bins = score_bins[:, column]
            self.score_total[column] += np.bincount(bins, minlength=SCORE_BINS)
            hits = bins[true_slot == self._index[label]]
            self.score_positive[column] += np.bincount(hits, minlength=SCORE_BINS)

    def merge(self, other: ClassificationState) -> None:
        """Add another state of the same classes into this one."""
        if not isinstance(other, ClassificationState):
            raise TypeError(f"cannot merge {type(other).__name__} into ClassificationState")
        if other.classes != self.classes or other.positive_label != self.positive_label:
            raise ValueError(
                f"cannot merge states of different classes: {list(self.classes)!r} "
                f"(positive {self.positive_label!r}) vs {list(other.classes)!r} (positive {other.positive_label!r})"
            )
        self.confusion += other.confusion
        self.other_agreement += other.other_agreement
        self.score_positive += other.score_positive
        self.score_total += other.score_total

    def to_dict(self) -> dict[str, Any]:
        """A JSON- and msgpack-safe dict (plain lists, ints and labels)."""
        return {
            "kind": "classification",
            "classes": list(self.classes),
            "positive_label": self.positive_label,
            "confusion": self.confusion.tolist(),
            "other_agreement": self.other_agreement,
            "score_positive": self.score_positive.tolist(),
            "score_total": self.score_total.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassificationState:
        """Rebuild a state from :meth:`to_dict` output; ``ValueError`` if it is malformed."""
        try:
            state = cls(data["classes"], data.get("positive_label"))
            for name in ("confusion", "score_positive", "score_total"):
                array = np.asarray(data[name], dtype=np.int64)
                expected = getattr(state, name).shape
                if array.shape != expected or (array < 0).any():
                    raise ValueError(f"{name} must be non-negative counts of shape {expected}")
                setattr(state, name, array.copy())
            if (state.score_positive > state.score_total).any():
                raise ValueError("score_positive counts exceed score_total counts")
            agreement = data.get("other_agreement", 0)
            if not isinstance(agreement, int) or not 0 <= agreement <= state.confusion[-1, -1]:
                raise ValueError(
                    f"other_agreement must be in [0, other x other], got {agreement!r}"
                )
            state.other_agreement = agreement
        except (KeyError, TypeError, OverflowError) as error:
            raise ValueError(f"malformed classification state: {error!r}") from None
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClassificationState):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ClassificationState(classes={list(self.classes)!r}, count={self.count})"


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def classification_metrics(state: ClassificationState) -> dict[str, float]:
    """Accuracy, precision, recall, F1 and ROC AUC of a classification state.

    Keys: ``accuracy, precision, recall, f1, roc_auc`` (binary: of the positive class;
    multiclass: macro averages, ROC AUC one-vs-rest), per class ``precision[<label>]``,
    ``recall[<label>]``, ``f1[<label>]``, and ``precision_macro, recall_macro, f1_macro``.
    Rows with labels unseen in the reference count as misclassified for every known class.

    No value is ever NaN: an undefined metric is left out. Precision of a class is
    undefined when nothing was predicted as it, recall when it never occurred, F1 when
    neither happened, ROC AUC when the scored rows lack positives or negatives (or no
    scores were given). Macro averages are taken over the classes where the metric is
    defined (scikit-learn's ``zero_division=np.nan``) and left out when none is.

    Examples
    --------
    >>> state = ClassificationState([0, 1])
    >>> state.update([1, 1, 0], [0, 0, 0])
    >>> sorted(classification_metrics(state))  # nothing predicted positive: no precision[1]
    ['accuracy', 'f1', 'f1[0]', 'f1[1]', 'f1_macro', 'precision[0]', 'precision_macro', 'recall', 'recall[0]', 'recall[1]', 'recall_macro']
    """
    matrix = state.confusion
    total = int(matrix.sum())
    if total == 0:
        return {}
    k = len(state.classes)
    diagonal = np.diag(matrix)[:k].astype(np.float64)
    predicted = matrix[:, :k].sum(axis=0)
    actual = matrix[:k, :].sum(axis=1)
    metrics: dict[str, float] = {
        "accuracy": (float(diagonal.sum()) + state.other_agreement) / total
    }
    per_class: dict[str, list[float | None]] = {"precision": [], "recall": [], "f1": []}
    for i, label in enumerate(state.classes):
        tp = float(diagonal[i])
        values = {
            "precision": _ratio(tp, float(predicted[i])),
            "recall": _ratio(tp, float(actual[i])),
            "f1": _ratio(2 * tp, float(predicted[i] + actual[i])),
        }
        for name, value in values.items():
            per_class[name].append(value)
            if value is not None:
                metrics[f"{name}[{label}]"] = value
    for name, values_of_classes in per_class.items():
        macro = _mean(values_of_classes)
        if macro is not None:
            metrics[f"{name}_macro"] = macro
        if state.binary:
            chosen = values_of_classes[state.classes.index(state.positive_label)]
        else:
            chosen = macro
        if chosen is not None:
            metrics[name] = chosen
    aucs = [
        binned_roc_auc(positive, total_row - positive)
        for positive, total_row in zip(state.score_positive, state.score_total, strict=True)
    ]
    roc_auc = _mean(aucs)
    if roc_auc is not None:
        metrics["roc_auc"] = roc_auc
    return metrics


# ---------------------------------------------------------------- regression

_EXACT_SHIFT = 1126  # every finite double is an integer multiple of 2**-1126 (and 2**-1074)


def _exact_int_sum(values: np.ndarray) -> int:
    """The exact sum of finite doubles, as an integer count of 2**-1126 (vectorised)."""
    values = np.ravel(values).astype(np.float64)
    if values.size == 0:
        return 0
    mantissa, exponent = np.frexp(values)  # values = mantissa * 2**exponent, 0.5 <= |mantissa| < 1
    integers = (mantissa * 2.0**53).astype(np.int64)  # exact: 53 significant bits
    shifts = exponent.astype(np.int64) - 53 + _EXACT_SHIFT  # >= 0 for every finite double
    groups, inverse = np.unique(shifts, return_inverse=True)
    inverse = inverse.ravel()
    high, low = integers >> 26, integers & ((1 << 26) - 1)  # |parts| < 2**27
    total = 0
    chunk = 1 << 25  # keeps float64 bincount sums of the parts below 2**52, hence exact
    for start in range(0, values.size, chunk):
        part = slice(start, start + chunk)
        high_sums = np.bincount(inverse[part], weights=high[part], minlength=len(groups))
        low_sums = np.bincount(inverse[part], weights=low[part], minlength=len(groups))
        for shift, h, lo in zip(
            groups.tolist(), high_sums.tolist(), low_sums.tolist(), strict=True
        ):
            total += ((int(h) << 26) + int(lo)) << shift
    return total


def _exact_to_float(total: int) -> float:
    return total / (1 << _EXACT_SHIFT)  # int / int is correctly rounded


def _exact_to_floats(total: int) -> list[float]:
    """Non-overlapping doubles whose exact sum is ``total`` (a compact, JSON-safe form)."""
    parts: list[float] = []
    while total:
        part = _exact_to_float(total)
        parts.append(part)
        total -= _exact_int_sum(np.array([part]))
    return parts


class RegressionState:
    """Mergeable labelled-outcome state of a regression model: exact error sums.

    Holds ``count``, Σ|e|, Σe² (e = y_pred - y_true) and Σ|e / y_true| over rows with
    ``y_true != 0`` (``percentage_count`` of them; ``zero_target_count`` rows with
    ``y_true == 0``, or so near 0 that the ratio overflows, are left out of it). The sums
    are exact (kept as integers in units of 2**-1126), so merged states equal one state fed
    all rows, whatever the split.

    Examples
    --------
    >>> state = RegressionState()
    >>> state.update([1.0, 2.0, 0.0], [1.5, 2.0, 1.0])
    >>> copy = RegressionState.from_dict(state.to_dict())
    >>> copy.count, copy.zero_target_count, regression_metrics(copy)["mae"]
    (3, 1, 0.5)
    """

    def __init__(self) -> None:
        self.count: int = 0
        self.percentage_count: int = 0
        self.zero_target_count: int = 0
        self._absolute = 0
        self._squared = 0
        self._percentage = 0

    @property
    def sum_absolute_error(self) -> float:
        return _exact_to_float(self._absolute)

    @property
    def sum_squared_error(self) -> float:
        return _exact_to_float(self._squared)

    @property
    def sum_absolute_percentage_error(self) -> float:
        return _exact_to_float(self._percentage)

    def update(self, y_true: ArrayLike, y_pred: ArrayLike) -> None:
        """Add rows of true and predicted values (finite numbers; nothing added if bad)."""
        truth = np.ravel(_finite_scores(y_true, "y_true"))
        predicted = np.ravel(_finite_scores(y_pred, "y_pred"))
        if truth.shape != predicted.shape:
            raise ValueError(f"y_true has {truth.size} values but y_pred has {predicted.size}")
        with np.errstate(over="ignore"):
            error = np.abs(predicted - truth)
            squared = error * error
            ratio = error / np.where(truth == 0, 1.0, np.abs(truth))
        if not np.isfinite(squared).all():
            raise ValueError("errors too large to square in double precision (overflow)")
        nonzero = (truth != 0) & np.isfinite(ratio)  # y_true ~ 1e-308 overflows like y_true == 0
        percentage = ratio[nonzero]
        absolute, squared_sum = _exact_int_sum(error), _exact_int_sum(squared)
        percentage_sum = _exact_int_sum(percentage)
        try:
            _exact_to_float(self._squared + squared_sum)
            _exact_to_float(self._percentage + percentage_sum)
        except OverflowError:
            raise ValueError("sums of errors overflow double precision") from None
        self.count += int(truth.size)
        self.percentage_count += int(nonzero.sum())
        self.zero_target_count += int(truth.size - nonzero.sum())
        self._absolute += absolute
        self._squared += squared_sum
        self._percentage += percentage_sum

    def merge(self, other: RegressionState) -> None:
        """Add another regression state into this one (exactly)."""
        if not isinstance(other, RegressionState):
            raise TypeError(f"cannot merge {type(other).__name__} into RegressionState")
        self.count += other.count
        self.percentage_count += other.percentage_count
        self.zero_target_count += other.zero_target_count
        self._absolute += other._absolute
        self._squared += other._squared
        self._percentage += other._percentage

    def to_dict(self) -> dict[str, Any]:
        """A JSON- and msgpack-safe dict; each exact sum is a short list of floats."""
        return {
            "kind": "regression",
            "count": self.count,
            "percentage_count": self.percentage_count,
            "zero_target_count": self.zero_target_count,
            "sum_absolute_error": _exact_to_floats(self._absolute),
            "sum_squared_error": _exact_to_floats(self._squared),
            "sum_absolute_percentage_error": _exact_to_floats(self._percentage),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegressionState:
        """Rebuild a state from :meth:`to_dict` output; ``ValueError`` if it is malformed."""
        state = cls()
        try:
            for name in ("count", "percentage_count", "zero_target_count"):
                value = data[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
                setattr(state, name, value)
            if state.percentage_count + state.zero_target_count != state.count:
                raise ValueError("percentage_count + zero_target_count must equal count")
            for key, attribute in (
                ("sum_absolute_error", "_absolute"),
                ("sum_squared_error", "_squared"),
                ("sum_absolute_percentage_error", "_percentage"),
            ):
                parts = _finite_scores(data[key], key)
                total = _exact_int_sum(parts) if parts.ndim == 1 else -1
                if total < 0:
                    raise ValueError(f"{key} must be a list of numbers with a non-negative sum")
                setattr(state, attribute, total)
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed regression state: {error!r}") from None
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegressionState):
            return NotImplemented
        return vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RegressionState(count={self.count})"


def regression_metrics(state: RegressionState) -> dict[str, float]:
    """MAE, RMSE and MAPE of a regression state (empty dict when it has no rows).

    ``mape`` is a fraction (0.1 = 10 %), like scikit-learn's
    ``mean_absolute_percentage_error``, but rows with ``y_true == 0`` are left out (their
    percentage error is infinite); it is omitted when every row has ``y_true == 0``.

    Examples
    --------
    >>> state = RegressionState()
    >>> state.update([2.0, 4.0], [3.0, 1.0])
    >>> regression_metrics(state)
    {'mae': 2.0, 'rmse': 2.23606797749979, 'mape': 0.625}
    """
    if state.count == 0:
        return {}
    metrics = {
        "mae": state.sum_absolute_error / state.count,
        "rmse": math.sqrt(state.sum_squared_error / state.count),
    }
    if state.percentage_count:
        metrics["mape"] = state.sum_absolute_percentage_error / state.percentage_count
    return metrics
