"""Labelled performance state and metrics, checked against scikit-learn on the same data."""

from __future__ import annotations

import itertools
import json
import math

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from infersight.drift.performance import (
    SCORE_BINS,
    SCORE_EDGES,
    ClassificationState,
    RegressionState,
    classification_metrics,
    regression_metrics,
    score_bin_index,
    score_histogram,
)
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_absolute_percentage_error,
    precision_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

REL = 1e-12


def _binary_data(seed: int, rows: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.beta(2, 3, rows)
    y_true = (rng.random(rows) < scores).astype(int)
    y_pred = (scores >= 0.4).astype(int)
    return y_true, y_pred, scores


def _multiclass_data(
    seed: int, rows: int = 3000, classes: tuple[str, ...] = ("a", "b", "c", "d")
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(rows, len(classes)))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array(classes, dtype=object)
    y_true = labels[[rng.choice(len(classes), p=p) for p in probabilities]]
    y_pred = labels[probabilities.argmax(axis=1)]
    return y_true, y_pred, probabilities


def _sklearn_per_class(y_true: object, y_pred: object, labels: list[object]) -> dict[str, float]:
    expected: dict[str, float] = {}
    for name, function in (
        ("precision", precision_score),
        ("recall", recall_score),
        ("f1", f1_score),
    ):
        values = function(y_true, y_pred, labels=labels, average=None, zero_division=np.nan)
        for label, value in zip(labels, values, strict=True):
            if not math.isnan(value):
                expected[f"{name}[{label}]"] = float(value)
        macro = function(y_true, y_pred, labels=labels, average="macro", zero_division=np.nan)
        if not math.isnan(macro):
            expected[f"{name}_macro"] = float(macro)
    return expected


# ---------------------------------------------------------------- binning


def test_score_bins_follow_numpy_histogram_edges() -> None:
    rng = np.random.default_rng(1)
    grid = SCORE_EDGES.copy()  # every edge exactly, where rounding could misplace a score
    scores = np.concatenate([rng.random(5000), grid, [-0.5, 1.5, np.nextafter(1.0, 0.0)]])
    expected, _ = np.histogram(np.clip(scores, 0.0, 1.0), bins=SCORE_EDGES)
    assert score_histogram(scores).tolist() == expected.tolist()
    assert np.bincount(score_bin_index(scores), minlength=SCORE_BINS).tolist() == expected.tolist()


@pytest.mark.parametrize("bad", [[0.1, float("nan")], [float("inf")], ["high"]])
def test_score_histogram_rejects_non_numbers(bad: list[object]) -> None:
    with pytest.raises(ValueError, match="scores must be"):
        score_histogram(bad)


# ---------------------------------------------------------------- classification


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_equal_scikit_learn(seed: int) -> None:
    y_true, y_pred, scores = _binary_data(seed)
    state = ClassificationState([0, 1], positive_label=1)
    state.update(y_true, y_pred, scores)
    metrics = classification_metrics(state)

    assert state.count == len(y_true)
    assert (
        state.confusion[:2, :2].tolist() == confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist()
    )
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), rel=REL)
    assert metrics["precision"] == pytest.approx(precision_score(y_true, y_pred), rel=REL)
    assert metrics["recall"] == pytest.approx(recall_score(y_true, y_pred), rel=REL)
    assert metrics["f1"] == pytest.approx(f1_score(y_true, y_pred), rel=REL)
    for key, value in _sklearn_per_class(y_true, y_pred, [0, 1]).items():
        assert metrics[key] == pytest.approx(value, rel=REL), key


def test_binary_roc_auc_equals_scikit_learn_on_binned_scores() -> None:
    y_true, y_pred, scores = _binary_data(3, rows=20_000)
    state = ClassificationState([0, 1])
    state.update(y_true, y_pred, scores)
    binned = np.floor(np.clip(scores, 0, 1) * SCORE_BINS)  # the bin grid, ties within a bin
    np.testing.assert_array_equal(np.minimum(binned, SCORE_BINS - 1), score_bin_index(scores))
    assert classification_metrics(state)["roc_auc"] == pytest.approx(
        roc_auc_score(y_true, binned), rel=REL
    )


def test_binary_roc_auc_is_within_the_binning_bound_of_exact_roc_auc() -> None:
    """Binning only changes pairs sharing a bin; each counts 1/2 instead of 0 or 1."""
    for seed in range(4):
        y_true, y_pred, scores = _binary_data(seed, rows=20_000)
        state = ClassificationState([0, 1])
        state.update(y_true, y_pred, scores)
        positives, totals = state.score_positive[0], state.score_total[0]
        negatives = totals - positives
        bound = 0.5 * float(np.sum(positives * negatives)) / (positives.sum() * negatives.sum())
        error = abs(classification_metrics(state)["roc_auc"] - roc_auc_score(y_true, scores))
        assert error <= bound
        assert error < 1e-3  # the documented typical size on smooth score densities


def test_binary_accepts_string_labels_and_a_probability_matrix() -> None:
    y_true, y_pred, scores = _binary_data(4)
    names = np.array(["ham", "spam"])
    state = ClassificationState(["ham", "spam"], positive_label="spam")
    state.update(names[y_true], names[y_pred], np.column_stack([1 - scores, scores]))
    reference = ClassificationState([0, 1])
    reference.update(y_true, y_pred, scores)
    assert classification_metrics(state)["roc_auc"] == classification_metrics(reference)["roc_auc"]
    assert classification_metrics(state)["f1"] == pytest.approx(f1_score(y_true, y_pred), rel=REL)


def test_positive_label_defaults_to_the_second_class_and_can_be_the_first() -> None:
    y_true, y_pred, scores = _binary_data(5)
    first = ClassificationState([0, 1], positive_label=0)
    first.update(y_true, y_pred, 1 - scores)
    metrics = classification_metrics(first)
    assert ClassificationState([0, 1]).positive_label == 1
    assert metrics["precision"] == pytest.approx(
        precision_score(y_true, y_pred, pos_label=0), rel=REL
    )
    assert metrics["roc_auc"] == pytest.approx(
        roc_auc_score(y_true == 0, score_bin_index(1 - scores)), rel=REL
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_multiclass_metrics_equal_scikit_learn(seed: int) -> None:
    classes = ["a", "b", "c", "d"]
    y_true, y_pred, probabilities = _multiclass_data(seed)
    state = ClassificationState(classes)
    state.update(y_true, y_pred, probabilities)
    metrics = classification_metrics(state)

    assert (
        state.confusion[:4, :4].tolist()
        == confusion_matrix(y_true, y_pred, labels=classes).tolist()
    )
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), rel=REL)
    expected = _sklearn_per_class(y_true, y_pred, classes)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, rel=REL), key
    for name in ("precision", "recall", "f1"):
        assert metrics[name] == metrics[f"{name}_macro"]
    per_class_binned = [
        roc_auc_score(y_true == c, score_bin_index(probabilities[:, i]))
        for i, c in enumerate(classes)
    ]
    assert metrics["roc_auc"] == pytest.approx(np.mean(per_class_binned), rel=REL)
    exact = roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro", labels=classes)
    assert metrics["roc_auc"] == pytest.approx(exact, abs=2e-3)


def test_labels_unseen_in_the_reference_go_to_other_and_are_counted() -> None:
    classes = ["a", "b", "c"]
    y_true = np.array(["a", "b", "x", "y", "c", "x", "a"], dtype=object)
    y_pred = np.array(["a", "x", "x", "c", "c", "y", "z"], dtype=object)
    state = ClassificationState(classes)
    state.update(y_true, y_pred)
    metrics = classification_metrics(state)

    assert state.count == 7
    assert state.other_count == 5  # rows 1, 2, 3, 5, 6
    assert state.confusion[-1, -1] == 2  # (x, x) and (x, y)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), rel=REL)
    for key, value in _sklearn_per_class(y_true, y_pred, classes).items():
        assert metrics[key] == pytest.approx(value, rel=REL), key


def test_mixed_python_labels_are_not_coerced_to_strings() -> None:
    state = ClassificationState([1, "1"])
    state.update([1, "1", 1], ["1", "1", 1])
    assert state.confusion[:2, :2].tolist() == [[1, 1], [0, 1]]


def test_empty_state_has_no_metrics() -> None:
    state = ClassificationState([0, 1])
    state.update([], [], scores=[])
    assert state.count == 0
    assert classification_metrics(state) == {}


def test_one_class_present_leaves_out_roc_auc_and_its_undefined_recall() -> None:
    state = ClassificationState([0, 1])
    state.update([1, 1, 1], [1, 0, 1], scores=[0.9, 0.2, 0.7])
    metrics = classification_metrics(state)
    assert "roc_auc" not in metrics
    assert "recall[0]" not in metrics
    assert metrics["precision[0]"] == 0.0
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert all(not math.isnan(v) for v in metrics.values())


def test_all_predictions_one_class_leaves_out_undefined_precision() -> None:
    y_true = [0, 1, 1, 0, 1]
    y_pred = [0, 0, 0, 0, 0]
    state = ClassificationState([0, 1])
    state.update(y_true, y_pred)
    metrics = classification_metrics(state)
    assert "precision" not in metrics and "precision[1]" not in metrics
    assert metrics["recall"] == 0.0
    assert metrics["f1"] == 0.0
    assert metrics["precision_macro"] == pytest.approx(
        precision_score(y_true, y_pred, average="macro", zero_division=np.nan)
    )


def test_multiclass_roc_auc_averages_only_classes_with_positives_and_negatives() -> None:
    classes = ["a", "b", "c"]
    y_true = np.array(["a", "b", "a", "b"], dtype=object)  # "c" never occurs
    scores = np.array([[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.5, 0.2, 0.3], [0.6, 0.3, 0.1]])
    state = ClassificationState(classes)
    state.update(y_true, y_true, scores)
    expected = np.mean(
        [roc_auc_score(y_true == c, score_bin_index(scores[:, i])) for i, c in enumerate("ab")]
    )
    assert classification_metrics(state)["roc_auc"] == pytest.approx(expected, rel=REL)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (([0, 1], [0]), "rows"),
        (([[0, 1]], [[0, 1]]), "hashable"),
        ((np.array([[0, 1]]), np.array([[0, 1]])), "one-dimensional"),
        (([0, 1], [0, 1], [0.2]), "shape"),
        (([0, 1], [0, 1], [0.2, float("nan")]), "finite"),
        (([[0], [1]], [0, 1]), "hashable"),
    ],
)
def test_bad_updates_raise_clear_errors_and_change_nothing(
    arguments: tuple[object, ...], message: str
) -> None:
    state = ClassificationState([0, 1])
    with pytest.raises(ValueError, match=message):
        state.update(*arguments)  # type: ignore[arg-type]
    assert state.count == 0


def test_unhashable_labels_are_rejected() -> None:
    state = ClassificationState([0, 1])
    with pytest.raises(ValueError, match="hashable"):
        state.update([{"a": 1}], [0])


@pytest.mark.parametrize(
    ("classes", "positive", "message"),
    [
        ([], None, "empty"),
        ([0, 0], None, "distinct"),
        ([0, 1], 2, "not one of"),
        ([0, 1, 2], 1, "binary"),
        ([[0], [1]], None, "JSON-safe"),
        ([0.0, float("nan")], None, "finite"),
        ("ab", None, "sequence"),
    ],
)
def test_bad_classes_are_rejected(classes: object, positive: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClassificationState(classes, positive)  # type: ignore[arg-type]


def test_merging_states_of_different_classes_is_refused() -> None:
    with pytest.raises(ValueError, match="different classes"):
        ClassificationState([0, 1]).merge(ClassificationState([0, 1], positive_label=0))
    with pytest.raises(TypeError):
        ClassificationState([0, 1]).merge(RegressionState())  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "z"]),
            st.sampled_from(["a", "b", "c", "y"]),
            st.lists(st.floats(-0.2, 1.2), min_size=3, max_size=3),
        ),
        max_size=60,
    ),
    cuts=st.lists(st.integers(0, 60), max_size=4),
)
def test_merged_random_splits_equal_the_whole(
    data: list[tuple[str, str, list[float]]], cuts: list[int]
) -> None:
    classes = ["a", "b", "c"]
    y_true = np.array([row[0] for row in data], dtype=object)
    y_pred = np.array([row[1] for row in data], dtype=object)
    scores = np.array([row[2] for row in data]).reshape(len(data), 3)
    whole = ClassificationState(classes)
    whole.update(y_true, y_pred, scores)
    merged = ClassificationState(classes)
    bounds = [0, *sorted(min(c, len(data)) for c in cuts), len(data)]
    for start, stop in itertools.pairwise(bounds):
        part = ClassificationState(classes)
        part.update(y_true[start:stop], y_pred[start:stop], scores[start:stop])
        merged.merge(part)
    assert merged == whole
    assert classification_metrics(merged) == classification_metrics(whole)


def test_to_dict_survives_json_and_msgpack() -> None:
    y_true, y_pred, probabilities = _multiclass_data(7, rows=500)
    state = ClassificationState(["a", "b", "c", "d"])
    state.update(y_true, y_pred, probabilities)
    state.update(["zebra"], ["zebra"])
    for encoded in (
        json.loads(json.dumps(state.to_dict())),
        msgspec.msgpack.decode(msgspec.msgpack.encode(state.to_dict())),
    ):
        copy = ClassificationState.from_dict(encoded)
        assert copy == state
        assert classification_metrics(copy) == classification_metrics(state)


@pytest.mark.parametrize(
    "damage",
    [
        {"classes": None},
        {"confusion": [[1, 2], [3, 4]]},
        {"score_total": [[-1] * SCORE_BINS]},
        {"confusion": "many"},
        {"other_agreement": 1},  # more agreeing unseen labels than (other, other) rows
        {"score_positive": [[1] * SCORE_BINS]},  # more positives than scored rows
    ],
)
def test_from_dict_rejects_malformed_state(damage: dict[str, object]) -> None:
    data = ClassificationState([0, 1]).to_dict() | damage
    with pytest.raises(ValueError):
        ClassificationState.from_dict(data)
    with pytest.raises(ValueError, match="malformed"):
        ClassificationState.from_dict({"positive_label": 1})


# ---------------------------------------------------------------- regression


def test_regression_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(11)
    y_true = rng.normal(100, 30, 5000)
    y_true[:50] = 0.0  # zero targets: left out of MAPE only
    y_pred = y_true + rng.normal(0, 5, 5000)
    state = RegressionState()
    state.update(y_true, y_pred)
    metrics = regression_metrics(state)
    nonzero = y_true != 0
    assert state.count == 5000 and state.zero_target_count == 50
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y_true, y_pred), rel=REL)
    assert metrics["rmse"] == pytest.approx(root_mean_squared_error(y_true, y_pred), rel=REL)
    assert metrics["mape"] == pytest.approx(
        mean_absolute_percentage_error(y_true[nonzero], y_pred[nonzero]), rel=REL
    )


def test_regression_sums_are_exact() -> None:
    """math.fsum is the correctly rounded exact sum: an independent reference."""
    rng = np.random.default_rng(12)
    y_true = rng.normal(0, 1, 2000) * 10.0 ** rng.integers(-30, 30, 2000)
    y_pred = np.zeros(2000)
    state = RegressionState()
    state.update(y_true, y_pred)
    assert state.sum_absolute_error == math.fsum(np.abs(y_true).tolist())
    assert state.sum_squared_error == math.fsum((y_true * y_true).tolist())


def test_regression_edge_cases() -> None:
    state = RegressionState()
    assert regression_metrics(state) == {}
    state.update([0.0, 0.0], [1.0, -1.0])
    assert regression_metrics(state) == {"mae": 1.0, "rmse": 1.0}  # no MAPE without y != 0
    state.update([1e-310], [4.0])  # the percentage error overflows: left out like y == 0
    assert (state.count, state.zero_target_count) == (3, 3)
    assert "mape" not in regression_metrics(state)
    with pytest.raises(ValueError, match="finite"):
        state.update([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="values"):
        state.update([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="overflow"):
        state.update([1e200], [-1e200])
    assert state.count == 3


@settings(max_examples=80, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.floats(-1e12, 1e12), st.floats(-1e12, 1e12)), max_size=40),
    cuts=st.lists(st.integers(0, 40), max_size=4),
)
def test_merged_regression_splits_equal_the_whole_exactly(
    pairs: list[tuple[float, float]], cuts: list[int]
) -> None:
    y_true = np.array([p[0] for p in pairs])
    y_pred = np.array([p[1] for p in pairs])
    whole = RegressionState()
    whole.update(y_true, y_pred)
    merged = RegressionState()
    bounds = [0, *sorted(min(c, len(pairs)) for c in cuts), len(pairs)]
    for start, stop in itertools.pairwise(bounds):
        part = RegressionState.from_dict(
            json.loads(json.dumps(_state_of(y_true[start:stop], y_pred[start:stop])))
        )
        merged.merge(part)
    assert merged == whole
    assert regression_metrics(merged) == regression_metrics(whole)


def _state_of(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, object]:
    state = RegressionState()
    state.update(y_true, y_pred)
    return state.to_dict()


def test_regression_from_dict_rejects_malformed_state() -> None:
    good = _state_of(np.array([1.0, 0.0]), np.array([2.0, 0.5]))
    for damage in (
        {"count": -1},
        {"count": 5},
        {"sum_squared_error": [float("nan")]},
        {"sum_absolute_error": [-1.0]},
        {"sum_absolute_error": [[1.0]]},
        {"count": "2"},
    ):
        with pytest.raises(ValueError):
            RegressionState.from_dict(good | damage)
    with pytest.raises(ValueError, match="malformed"):
        RegressionState.from_dict({"count": 0})


def test_accuracy_counts_identical_unseen_labels_whatever_the_array_types() -> None:
    rng = np.random.default_rng(13)
    y_true = rng.choice(np.array(["a", "b", "x", "y"]), 2000)
    y_pred = rng.choice(np.array(["a", "b", "x", "y"]), 2000)
    state = ClassificationState(["a", "b"])
    state.update(y_true, y_pred)  # numpy string arrays: the vectorised comparison
    assert classification_metrics(state)["accuracy"] == pytest.approx(
        accuracy_score(y_true, y_pred), rel=REL
    )
    numbers = ClassificationState([0, 1])
    numbers.update(np.array([7, 8, 0]), np.array(["7", "8", "0"]))  # never equal across types
    assert numbers.other_agreement == 0
    assert classification_metrics(numbers)["accuracy"] == 0.0
