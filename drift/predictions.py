"""Model outputs: the task, the kind of prediction, and reading predictions of any accepted form.

A prediction may be a number (score or regression value), a class label, a list of class
probabilities, or ``{"label": ..., "score": float | {class: prob}}``; a model whose outputs
are vectors that are not class probabilities (a component below 0, or a row not summing to 1)
is an *embedding* model (task ``embedding``): its output is profiled like an embedding
feature, and its drift is prediction drift. Classes are compared by
their normalised key (:func:`~infersight.drift.categorical.category_key`).

Examples
--------
>>> spec = PredictionSpec.infer([0.1, 0.8, 0.65], labels=[0, 1, 1])
>>> spec.task, spec.kind, spec.classes, spec.positive_label
('binary', 'score', ['0', '1'], '1')
>>> out = spec.read([0.3, {"score": 0.9}, [0.2, 0.8]])
>>> out.scores.tolist(), out.labels
([0.3, 0.9, 0.8], ['0', '1', '1'])
>>> PredictionSpec.infer([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6]]).task
'embedding'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .categorical import category_key
from .columns import to_float

Task = Literal["binary", "multiclass", "regression", "embedding"]
PredictionKind = Literal["score", "class", "value", "embedding"]
ArrayF = npt.NDArray[np.float64]
_MAX_CLASSES_FOR_INTEGER_LABELS = 20


@dataclass
class ReadPredictions:
    """Predictions as columns: ``scores`` (P(positive), binary), ``labels`` (predicted class
    keys, None = missing), ``values`` (regression), ``probabilities`` (multiclass: an (n, k)
    matrix aligned with the spec's classes, a row of NaN where a prediction gives no full
    probability vector; None when no row does)."""

    scores: ArrayF | None
    labels: list[str | None] | None
    values: ArrayF | None
    probabilities: ArrayF | None = None


def as_mapping(p: Any) -> Any:
    """A ``{"label", "score"}`` prediction given as an object (the wire codec's struct, a
    dataclass…) as the mapping it stands for; any other prediction unchanged.

    >>> from types import SimpleNamespace
    >>> as_mapping(SimpleNamespace(label="spam", score=0.8)), as_mapping(0.3)
    ({'label': 'spam', 'score': 0.8}, 0.3)
    """
    if p is None or isinstance(p, Mapping | float | int | str | list | tuple | np.ndarray):
        return p
    label, score = getattr(p, "label", _ABSENT), getattr(p, "score", _ABSENT)
    if label is _ABSENT or score is _ABSENT:
        return p
    return {"label": label} if score is None else {"label": label, "score": score}


_ABSENT = object()


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)


def _class_order(key: str) -> tuple[int, float, str]:
    """Sort key of class keys: numbers by value (as scikit-learn orders ``classes_``), then text."""
    try:
        number = float(key)
    except ValueError:
        return (1, 0.0, key)
    return (0, number, key) if np.isfinite(number) else (1, 0.0, key)


def _default_positive(classes: list[str]) -> str | None:
    for candidate in ("1", "true", "yes", "positive"):
        if candidate in classes:
            return candidate
    return classes[-1] if classes else None


@dataclass
class PredictionSpec:
    """How to read a model's predictions: task, kind, classes, positive class, threshold."""

    task: Task
    kind: PredictionKind
    classes: list[str]
    positive_label: str | None = None
    threshold: float = 0.5

    @classmethod
    def infer(cls, predictions: Any, labels: Any = None, task: str | None = None,
              positive_label: Any = None, threshold: float = 0.5) -> PredictionSpec:
        """Infer the spec from reference predictions (and labels, if given)."""
        preds = [as_mapping(p) for p in _as_list(predictions)]
        label_list = _as_list(labels) if labels is not None else []
        first = next((p for p in preds if p is not None), None)
        if task == "embedding" or (task is None and _vectors_not_probabilities(preds)):
            return cls("embedding", "embedding", [], None, threshold)
        has_scores = first is not None and (
            (_is_number(first) and all(_is_number(p) and 0.0 <= float(p) <= 1.0
                                       for p in preds if p is not None)
             and any(not float(p).is_integer() for p in preds if p is not None))
            or isinstance(first, list | tuple | np.ndarray)
            or (isinstance(first, Mapping) and "score" in first))
        if task is None:
            task = _infer_task(preds, label_list, has_scores, first)
        if task not in ("binary", "multiclass", "regression"):
            raise ValueError("task must be 'binary', 'multiclass', 'regression' or 'embedding', "
                             f"not {task!r}")
        if task == "regression":
            return cls("regression", "value", [], None, threshold)
        task_name: Task = "binary" if task == "binary" else "multiclass"
        classes = sorted({category_key(v) for v in label_list if v is not None and v == v},
                         key=_class_order)
        if isinstance(first, list | tuple | np.ndarray) and not classes:
            classes = [str(i) for i in range(len(first))]
        if not classes:
            if task == "binary" and has_scores:
                classes = ["0", "1"]
            else:
                classes = sorted({k for p in preds if p is not None
                                  for k in [_label_of(p)] if k is not None}, key=_class_order)
        positive = category_key(positive_label) if positive_label is not None \
            else _default_positive(classes)
        if task == "binary" and positive is not None and positive not in classes:
            classes = sorted([*classes, positive], key=_class_order)
        kind: PredictionKind = "score" if task_name == "binary" and has_scores else "class"
        return cls(task_name, kind, classes, positive if task_name == "binary" else None,
                   threshold)

    def read(self, predictions: Any, need_labels: bool = True) -> ReadPredictions:
        """Read raw predictions into columns according to this spec.

        With ``need_labels=False`` plain scores are not turned into predicted classes.
        """
        if self.task == "regression":
            values, _ = to_float(_flat_numbers(predictions))
            return ReadPredictions(None, None, values)
        arr = _try_2d(predictions)
        if arr is not None:
            return self._from_matrix(arr)
        if self.kind == "score":
            try:
                scores = np.asarray(predictions, dtype=np.float64)
                if scores.ndim == 1:
                    labels = self._threshold_labels(scores) if need_labels else None
                    return ReadPredictions(scores, labels, None)
            except (TypeError, ValueError):
                pass
        preds = _as_list(predictions)
        scores_out = np.full(len(preds), np.nan)
        labels_out: list[str | None] = [None] * len(preds)
        multiclass = self.task == "multiclass"
        probabilities = np.full((len(preds), len(self.classes)), np.nan) if multiclass else None
        for i, p in enumerate(preds):
            score, label = self._one(p)
            if score is not None:
                scores_out[i] = score
            labels_out[i] = label
            if probabilities is not None:
                probabilities[i] = self._probability_row(p)
        if probabilities is not None and np.isnan(probabilities).all():
            probabilities = None
        return ReadPredictions(scores_out if self.kind == "score" else None, labels_out, None,
                               probabilities)

    def _threshold_labels(self, scores: ArrayF) -> list[str | None]:
        neg = next((c for c in self.classes if c != self.positive_label), "0")
        pos = self.positive_label or "1"
        with np.errstate(invalid="ignore"):
            positive = scores >= self.threshold
        out: list[str | None] = np.where(positive, pos, neg).astype(object).tolist()
        for i in np.flatnonzero(~np.isfinite(scores)).tolist():
            out[i] = None
        return out

    def _from_matrix(self, arr: ArrayF) -> ReadPredictions:
        k = arr.shape[1]
        classes = self.classes if len(self.classes) == k else [str(i) for i in range(k)]
        valid = np.all(np.isfinite(arr), axis=1)
        best = np.argmax(np.where(np.isfinite(arr), arr, -np.inf), axis=1)
        labels: list[str | None] = [classes[j] if ok else None
                                    for j, ok in zip(best.tolist(), valid.tolist(), strict=True)]
        scores = None
        if self.kind == "score":
            pos = classes.index(self.positive_label) if self.positive_label in classes else k - 1
            scores = np.where(valid, arr[:, pos], np.nan)
            labels = self._threshold_labels(scores)
        probabilities = None
        if self.task == "multiclass" and k == len(self.classes) and valid.any():
            probabilities = np.where(valid[:, None], arr, np.nan)
        return ReadPredictions(scores, labels, None, probabilities)

    def _probability_row(self, p: Any) -> ArrayF:
        """One prediction's class probabilities aligned with ``classes`` (NaN if it has none).

        A probability vector must have one finite entry per class; a ``{"score": {class:
        prob}}`` mapping must give a finite number for every class (other keys are ignored).
        """
        missing = np.full(len(self.classes), np.nan)
        p = as_mapping(p)
        if isinstance(p, Mapping) and isinstance(p.get("score"), Mapping):
            probs = {category_key(k): v for k, v in p["score"].items() if _is_number(v)}
            if not all(c in probs for c in self.classes):
                return missing
            row = np.array([float(probs[c]) for c in self.classes])
        elif isinstance(p, list | tuple | np.ndarray):
            try:
                row = np.asarray(p, dtype=np.float64)
            except (TypeError, ValueError):
                return missing
            if row.shape != (len(self.classes),):
                return missing
        else:
            return missing
        return row if np.isfinite(row).all() else missing

    def _one(self, p: Any) -> tuple[float | None, str | None]:
        if p is None:
            return None, None
        p = as_mapping(p)
        if isinstance(p, Mapping):
            score, label = p.get("score"), p.get("label")
            if isinstance(score, Mapping):
                probs = {category_key(k): v for k, v in score.items() if _is_number(v)}
                if self.positive_label is not None and self.positive_label in probs:
                    pos = float(probs[self.positive_label])
                    return pos, category_key(label) if label is not None else self._label(pos)
                best = max(probs.items(), key=lambda kv: float(kv[1]))[0] if probs else None
                return None, category_key(label) if label is not None else best
            given: float | None = float(score) if score is not None and _is_number(score) else None
            if label is not None:
                return given, category_key(label)
            return given, self._label(given) if given is not None else None
        if isinstance(p, list | tuple | np.ndarray):
            row = _try_2d([p])
            if row is None:
                return None, None
            read = self._from_matrix(row)
            first = float(read.scores[0]) if read.scores is not None else None
            return first, read.labels[0] if read.labels else None
        if _is_number(p) and self.kind == "score":
            s = float(p)
            return (s, self._label(s)) if np.isfinite(s) else (None, None)
        return None, category_key(p)

    def _label(self, score: float) -> str:
        return self._threshold_labels(np.array([score]))[0] or ""

    def to_dict(self) -> dict[str, Any]:
        """Builtins for serialisation."""
        return {"task": self.task, "kind": self.kind, "classes": self.classes,
                "positive_label": self.positive_label, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PredictionSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(d["task"], d["kind"], [str(c) for c in d["classes"]], d["positive_label"],
                   float(d["threshold"]))


def labelled_rows(y_true: Any, read: ReadPredictions
                  ) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], ArrayF | None]:
    """Class-label keys of the truth and the predictions, and the scores, of the rows that have
    a label, a predicted class and (binary, if scores are read) a finite score.

    The scores are binary P(positive) per row, or for a multiclass model the (n, k) class
    probabilities (None when no row has them; a row of NaN where that row has none: it
    still counts as labelled).

    Examples
    --------
    >>> spec = PredictionSpec("binary", "score", ["0", "1"], "1")
    >>> t, p, s = labelled_rows([1, None, 0], spec.read([0.9, 0.8, float("nan")]))
    >>> t.tolist(), p.tolist(), s.tolist()
    (['1'], ['1'], [0.9])
    """
    keys, predicted, scores, ok = labelled_mask(y_true, read)
    return keys[ok], predicted[ok], scores[ok] if scores is not None else None


def labelled_mask(y_true: Any, read: ReadPredictions) -> tuple[
        npt.NDArray[np.object_], npt.NDArray[np.object_], ArrayF | None, npt.NDArray[np.bool_]]:
    """:func:`labelled_rows` before filtering: every row's truth and prediction keys and
    scores, and the mask of the rows that count.

    >>> spec = PredictionSpec("binary", "score", ["0", "1"], "1")
    >>> labelled_mask([1, None, 0], spec.read([0.9, 0.8, float("nan")]))[3].tolist()
    [True, False, False]
    """
    truth = list(y_true.tolist() if hasattr(y_true, "tolist") else y_true)
    labels = read.labels or [None] * len(truth)
    if len(truth) != len(labels):
        raise ValueError(f"y_true has {len(truth)} rows but predictions have {len(labels)}")
    keys = np.empty(len(truth), dtype=object)
    keys[:] = [category_key(v) if v is not None and v == v else None for v in truth]
    predicted = np.empty(len(labels), dtype=object)
    predicted[:] = labels
    ok = np.array([k is not None for k in keys.tolist()], dtype=bool) & np.array(
        [q is not None for q in predicted.tolist()], dtype=bool)
    if read.probabilities is not None:
        return keys, predicted, read.probabilities, ok
    scores = read.scores
    if scores is not None:
        ok &= np.isfinite(scores)
    return keys, predicted, scores, ok


def _label_of(p: Any) -> str | None:
    if isinstance(p, Mapping):
        return category_key(p["label"]) if p.get("label") is not None else None
    if isinstance(p, list | tuple | np.ndarray):
        return None
    return category_key(p)


_PROBABILITY_CHECK_ROWS = 1000
"""Vector predictions checked for being class probabilities (the first ones present)."""


def _vectors_not_probabilities(preds: list[Any]) -> bool:
    """Vector predictions with a component below 0 or a row not summing to 1 (± 0.001)."""
    rows = [p for p in preds[:10 * _PROBABILITY_CHECK_ROWS]
            if isinstance(p, list | tuple | np.ndarray)][:_PROBABILITY_CHECK_ROWS]
    if not rows:
        return False
    try:
        matrix = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        return False  # ragged or not numbers: not an embedding either
    if matrix.ndim != 2 or not np.isfinite(matrix).all():
        return False
    return bool((matrix < 0).any() or (np.abs(matrix.sum(axis=1) - 1.0) > 1e-3).any())


def _infer_task(preds: list[Any], labels: list[Any], has_scores: bool, first: Any) -> Task:
    if labels:
        numeric = [float(v) for v in labels if _is_number(v)]
        if len(numeric) == len([v for v in labels if v is not None]) and numeric:
            arr = np.asarray(numeric)
            finite = arr[np.isfinite(arr)]
            if finite.size and (np.any(finite != np.round(finite))
                                or np.unique(finite).size > _MAX_CLASSES_FOR_INTEGER_LABELS):
                return "regression"
        n_classes = len({category_key(v) for v in labels if v is not None})
        return "binary" if n_classes <= 2 else "multiclass"
    if isinstance(first, list | tuple | np.ndarray):
        return "binary" if len(first) == 2 else "multiclass"
    if isinstance(first, Mapping) and isinstance(first.get("score"), Mapping):
        return "binary" if len(first["score"]) == 2 else "multiclass"
    if has_scores:
        return "binary"
    if _is_number(first):
        values = np.asarray([float(p) for p in preds if _is_number(p)])
        if np.any(values != np.round(values)) or np.unique(values).size > \
                _MAX_CLASSES_FOR_INTEGER_LABELS:
            return "regression"
    n_classes = len({k for p in preds if p is not None for k in [_label_of(p)] if k is not None})
    return "binary" if n_classes <= 2 else "multiclass"


def _as_list(values: Any) -> list[Any]:
    if values is None:
        return []
    if isinstance(values, np.ndarray):
        return list(values) if values.ndim > 1 else values.tolist()
    if hasattr(values, "to_numpy"):
        return _as_list(values.to_numpy())
    if isinstance(values, Sequence) and not isinstance(values, str | bytes):
        return list(values)
    raise TypeError(f"predictions must be a sequence or array, not {type(values).__name__}")


def _try_2d(predictions: Any) -> ArrayF | None:
    if isinstance(predictions, np.ndarray) and predictions.ndim == 2:
        return predictions.astype(np.float64)
    if isinstance(predictions, Sequence) and predictions and isinstance(
            predictions[0], list | tuple | np.ndarray):
        try:
            arr = np.asarray(predictions, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return arr if arr.ndim == 2 else None
    return None


def _flat_numbers(predictions: Any) -> Any:
    if isinstance(predictions, np.ndarray) and predictions.ndim == 1:
        return predictions
    plain = (as_mapping(p) for p in _as_list(predictions))
    return [p.get("score") if isinstance(p, Mapping) else p for p in plain]
