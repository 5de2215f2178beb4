"""Labelled performance of a classifier: a mergeable confusion matrix and per-class score
histograms, and the metrics computed from them.

Examples
--------
>>> state = ClassificationState(["a", "b", "c"])
>>> state.update(["a", "b", "c"], ["a", "b", "b"],
...              scores=[[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.5, 0.4]])
>>> metrics = classification_metrics(state)
>>> round(metrics["accuracy"], 4), metrics["recall[c]"], metrics["roc_auc"]
(0.6667, 0.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .scores import SCORE_BINS, binned_roc_auc, finite_floats, score_bin_index

__all__ = ["ClassificationState", "classification_metrics"]


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

    def _score_matrix(self, scores: ArrayLike, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """The (rows, scored classes) score matrix and the mask of rows that have scores."""
        k = len(self.classes)
        if not self.binary:
            return self._multiclass_scores(scores, rows, k)
        array = finite_floats(scores)
        if self.binary and array.ndim == 2 and array.shape == (rows, 2):
            array = array[:, self._index[self.positive_label]]
        if self.binary:
            if array.shape != (rows,):
                raise ValueError(
                    f"binary scores must be P(positive) with shape ({rows},) or ({rows}, 2), got {array.shape}"
                )
            return array[:, None], np.ones(rows, dtype=bool)

    @staticmethod
    def _multiclass_scores(scores: ArrayLike, rows: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        try:
            array = np.asarray(scores, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"scores must be numbers: {error}") from None
        if array.shape != (rows, k):
            raise ValueError(f"multiclass scores must have shape ({rows}, {k}), got {array.shape}")
        scored = np.asarray(~np.isnan(array).all(axis=1), dtype=bool)
        finite_floats(array[scored])  # NaN or infinity other than whole NaN rows: rejected
        return array[scored], scored

    def update(self, y_true: ArrayLike, y_pred: ArrayLike, scores: ArrayLike | None = None) -> None:
        """Add labelled rows: true labels, predicted labels and optionally scores.

        ``scores``: binary, P(positive) per row (or an (n, 2) matrix aligned with
        ``classes``); multiclass, an (n, k) matrix of class probabilities aligned with
        ``classes``, where a row of NaN marks a row without scores (counted in the confusion
        matrix, not in the score histograms). Scores are clipped into [0, 1]. Nothing is
        added if the input is bad.

        Examples
        --------
        >>> state = ClassificationState(["a", "b", "c"])
        >>> nan = float("nan")
        >>> state.update(["a", "b"], ["a", "c"], [[0.7, 0.2, 0.1], [nan, nan, nan]])
        >>> state.count, state.score_total.sum(axis=1).tolist()
        (2, [1, 1, 1])
        """
        truth, predicted = _label_array(y_true, "y_true"), _label_array(y_pred, "y_pred")
        if len(truth) != len(predicted):
            raise ValueError(f"y_true has {len(truth)} rows but y_pred has {len(predicted)}")
        rows = len(truth)
        if rows == 0:
            return
        score_bins, scored = None, None
        if scores is not None:
            matrix, scored = self._score_matrix(scores, rows)
            score_bins = score_bin_index(matrix)
        true_slot, pred_slot = self._slots(truth), self._slots(predicted)
        size = len(self.classes) + 1
        flat = np.bincount(true_slot * size + pred_slot, minlength=size * size)
        self.confusion += flat.reshape(size, size).astype(np.int64)
        both_other = np.flatnonzero((true_slot == size - 1) & (pred_slot == size - 1))
        self.other_agreement += _count_equal(truth[both_other], predicted[both_other])
        if score_bins is None or scored is None:
            return
        scored_true_slot = true_slot[scored]
        for column, label in enumerate(self.scored_classes):
            bins = score_bins[:, column]
            self.score_total[column] += np.bincount(bins, minlength=SCORE_BINS)
            hits = bins[scored_true_slot == self._index[label]]
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

