"""Multiclass ROC AUC (macro one-vs-rest) through the public path:
``Reference.from_data`` → ``new_window().update`` → ``add_labels`` → ``compare``,
checked against scikit-learn's ``roc_auc_score(multi_class="ovr", average="macro")``."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from infersight.drift import Reference, WindowState, compare
from infersight.drift.scores import SCORE_EDGES, score_bin_index

CLASSES = np.array(["ant", "bee", "cat", "dog"])
GRID = 50  # probabilities in multiples of 1/50: each grid value falls in a bin of its own


def _softmax_data(seed: int, rows: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(rows, len(CLASSES))) * 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = CLASSES[[rng.choice(len(CLASSES), p=p) for p in probabilities]]
    return rng, probabilities, truth


def _on_grid(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Probability rows rounded to multiples of 1/GRID that still sum to 1."""
    counts = np.array([rng.multinomial(GRID, p) for p in probabilities])
    return counts / GRID


def _sklearn_macro_ovr(truth: np.ndarray, probabilities: np.ndarray, classes: object) -> float:
    return float(skm.roc_auc_score(truth, probabilities, multi_class="ovr", average="macro",
                                   labels=classes))


def _window_auc(ref: Reference, rng: np.random.Generator, truth: np.ndarray,
                predictions: object) -> float:
    window = ref.new_window()
    window.update({"x": rng.normal(size=len(truth))}, predictions=predictions)
    window.add_labels(truth, predictions)
    return compare(ref, window).performance["roc_auc"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multiclass_roc_auc_equals_scikit_learn_on_scores_on_the_bin_grid(seed: int) -> None:
    rng, raw, truth = _softmax_data(seed, 4000)
    probabilities = _on_grid(rng, raw)
    grid_values = np.arange(GRID + 1) / GRID
    assert len(set(score_bin_index(grid_values).tolist())) == GRID + 1  # no two share a bin
    ref = Reference.from_data({"x": rng.normal(size=2000)}, predictions=probabilities[:2000],
                              labels=truth[:2000])
    assert ref.task == "multiclass"
    assert ref.performance["roc_auc"] == pytest.approx(
        _sklearn_macro_ovr(truth[:2000], probabilities[:2000], CLASSES), rel=1e-12)
    auc = _window_auc(ref, rng, truth[2000:], probabilities[2000:])
    assert auc == pytest.approx(
        _sklearn_macro_ovr(truth[2000:], probabilities[2000:], CLASSES), rel=1e-12)


def _binning_bound(truth: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean over classes of the largest error of a binned AUC: ½·Σ_b pos_b·neg_b / (P·N)."""
    bounds = []
    for column, label in enumerate(CLASSES):
        scores = np.clip(probabilities[:, column], 0.0, 1.0)
        positive, _ = np.histogram(scores[truth == label], bins=SCORE_EDGES)
        negative, _ = np.histogram(scores[truth != label], bins=SCORE_EDGES)
        bounds.append(0.5 * float(positive @ negative) / (positive.sum() * negative.sum()))
    return float(np.mean(bounds))


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_multiclass_roc_auc_on_raw_scores_is_within_the_binning_error(seed: int) -> None:
    rng, probabilities, truth = _softmax_data(seed, 6000)
    ref = Reference.from_data({"x": rng.normal(size=3000)}, predictions=probabilities[:3000],
                              labels=truth[:3000])
    auc = _window_auc(ref, rng, truth[3000:], probabilities[3000:])
    error = abs(auc - _sklearn_macro_ovr(truth[3000:], probabilities[3000:], CLASSES))
    # measured over 20 such windows of 3000 rows: mean 9e-5, max 2.2e-4
    assert error <= _binning_bound(truth[3000:], probabilities[3000:])
    assert error < 1e-3


def test_score_mappings_give_the_same_roc_auc_as_probability_vectors() -> None:
    rng, raw, truth = _softmax_data(6, 3000)
    probabilities = _on_grid(rng, raw)
    ref = Reference.from_data({"x": rng.normal(size=1000)}, predictions=probabilities[:1000],
                              labels=truth[:1000])
    current, labels = probabilities[1000:], truth[1000:]
    as_mappings = [{"label": CLASSES[row.argmax()],
                    "score": {c: float(p) for c, p in zip(CLASSES, row, strict=True)}}
                   for row in current]
    auc = _window_auc(ref, rng, labels, as_mappings)
    assert auc == pytest.approx(_sklearn_macro_ovr(labels, current, CLASSES), rel=1e-12)
    assert auc == _window_auc(ref, rng, labels, current)


def test_predictions_without_probabilities_count_for_accuracy_but_not_roc_auc() -> None:
    rng, raw, truth = _softmax_data(7, 3000)
    probabilities = _on_grid(rng, raw)
    ref = Reference.from_data({"x": rng.normal(size=1000)}, predictions=probabilities[:1000],
                              labels=truth[:1000])
    current, labels = probabilities[1000:], truth[1000:]
    scored = rng.random(len(labels)) < 0.6
    predictions: list[object] = [
        list(row) if has_scores else
        {"label": CLASSES[row.argmax()], "score": {"ant": 1.0}}  # partial mapping: no scores
        for row, has_scores in zip(current, scored, strict=True)]
    window = ref.new_window()
    window.update({"x": rng.normal(size=len(labels))}, predictions=predictions)
    window.add_labels(labels, predictions)
    performance = compare(ref, window).performance
    assert performance["accuracy"] == pytest.approx(
        skm.accuracy_score(labels, CLASSES[current.argmax(axis=1)]), rel=1e-12)
    assert performance["roc_auc"] == pytest.approx(
        _sklearn_macro_ovr(labels[scored], current[scored], CLASSES), rel=1e-12)


def test_many_integer_classes_keep_probability_columns_in_numeric_order() -> None:
    rng = np.random.default_rng(8)
    k, rows = 12, 6000
    logits = rng.normal(size=(rows, k)) * 2
    probabilities = _on_grid(rng, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))
    truth = np.array([rng.choice(k, p=p) for p in probabilities])
    ref = Reference.from_data({"x": rng.normal(size=3000)}, predictions=probabilities[:3000],
                              labels=truth[:3000])
    assert ref.prediction_spec is not None
    assert ref.prediction_spec.classes == [str(c) for c in range(k)]  # not "0", "1", "10", ...
    window = ref.new_window()
    window.update({"x": rng.normal(size=3000)}, predictions=probabilities[3000:])
    window.add_labels(truth[3000:], probabilities[3000:])
    performance = compare(ref, window).performance
    assert performance["accuracy"] == pytest.approx(
        skm.accuracy_score(truth[3000:], probabilities[3000:].argmax(axis=1)), rel=1e-12)
    assert performance["roc_auc"] == pytest.approx(
        _sklearn_macro_ovr(truth[3000:], probabilities[3000:], list(range(k))), rel=1e-12)


def test_split_merged_and_restored_windows_give_the_same_roc_auc() -> None:
    rng, probabilities, truth = _softmax_data(9, 3000)
    ref = Reference.from_data({"x": rng.normal(size=1000)}, predictions=probabilities[:1000],
                              labels=truth[:1000])
    whole, first, second = ref.new_window(), ref.new_window(), ref.new_window()
    whole.add_labels(truth[1000:], probabilities[1000:])
    first.add_labels(truth[1000:1700], probabilities[1000:1700])
    second.add_labels(truth[1700:], probabilities[1700:])
    restored = WindowState.from_bytes(first.to_bytes())
    restored.merge(WindowState.from_bytes(second.to_bytes()))
    restored.attach(ref)
    assert compare(ref, restored).performance["roc_auc"] == \
        compare(ref, whole).performance["roc_auc"]
