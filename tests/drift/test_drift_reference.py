"""Reference profiles: type inference and overrides, prediction forms, tasks, vocabulary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from infersight.drift import Reference, compare
from infersight.drift.categorical import CategoricalProfile
from infersight.drift.numeric import NumericProfile


def test_feature_kinds_are_inferred_and_can_be_overridden() -> None:
    frame = pd.DataFrame({"price": [1.5, 2.5, 3.0, 4.0], "count": [1, 2, 3, 4],
                          "flag": [0, 1, 1, 0], "is_new": [True, False, True, True],
                          "city": ["a", "b", None, "a"], "mixed": [1, 2.5, None, 4],
                          "zip": [75001, 75002, 75001, 75003]})
    ref = Reference.from_data(frame, feature_types={"zip": "categorical"})
    assert ref.feature_kinds == {"price": "numeric", "count": "numeric", "flag": "categorical",
                                 "is_new": "categorical", "city": "categorical",
                                 "mixed": "numeric", "zip": "categorical"}
    city = ref.features["city"]
    assert isinstance(city, CategoricalProfile) and city.missing == 1
    from_mapping = Reference.from_data({c: frame[c].tolist() for c in frame.columns},
                                       feature_types={"zip": "categorical"})
    assert from_mapping.feature_kinds == ref.feature_kinds
    assert from_mapping.fingerprint == ref.fingerprint


def test_numeric_bins_are_reference_deciles_plus_two_overflow_bins() -> None:
    values = np.random.default_rng(1).normal(size=10_000)
    profile = NumericProfile.from_values(values)
    coarse = profile.coarse(profile.ref_counts)
    assert coarse.size == 12 and coarse[0] == coarse[-1] == 0
    np.testing.assert_allclose(coarse[1:-1], 1000, atol=1)
    assert profile.max_bin_mass() <= 1.5 / 500


def test_vocabulary_keeps_the_top_k_and_counts_the_rest_as_other() -> None:
    values = [f"c{i}" for i in range(60) for _ in range(60 - i)]
    ref = Reference.from_data({"c": values}, top_k=50)
    profile = ref.features["c"]
    assert isinstance(profile, CategoricalProfile)
    assert profile.vocabulary[:3] == ["c0", "c1", "c2"] and len(profile.vocabulary) == 50
    assert int(profile.ref_counts[-1]) == sum(60 - i for i in range(50, 60))
    window = ref.new_window()
    window.update({"c": ["c55", "c0", "zzz", 7, True]})
    metrics = compare(ref, window).features["c"]
    assert metrics["new_category_rate"] == pytest.approx(3 / 5)  # zzz, 7, True never seen


def test_category_keys_unify_ints_floats_bools_and_strings() -> None:
    ref = Reference.from_data({"c": [1, 2, 2, 3, 3, 3]}, feature_types={"c": "categorical"})
    window = ref.new_window()
    window.update({"c": ["1", 2.0, 3, None]})
    metrics = compare(ref, window).features["c"]
    assert metrics["new_category_rate"] == 0.0 and metrics["missing_rate"] == 0.25


@pytest.mark.parametrize(("predictions", "labels", "task", "kind"), [
    (np.random.default_rng(0).uniform(size=200), None, "binary", "score"),
    (np.random.default_rng(0).uniform(size=200), np.random.default_rng(1).integers(0, 2, 200),
     "binary", "score"),
    (["spam", "ham"] * 100, None, "binary", "class"),
    (np.random.default_rng(0).dirichlet([1, 1, 1], 200), None, "multiclass", "class"),
    (np.random.default_rng(0).dirichlet([1, 1], 200), None, "binary", "score"),
    ([{"label": "a", "score": 0.7}] * 200, None, "binary", "score"),
    (np.random.default_rng(0).normal(50, 10, 200), None, "regression", "value"),
    ([0, 1, 2, 1] * 50, [0, 1, 2, 2] * 50, "multiclass", "class"),
])
def test_tasks_and_prediction_kinds_are_inferred(predictions: object, labels: object, task: str,
                                                 kind: str) -> None:
    ref = Reference.from_data({"x": np.arange(200.0)}, predictions=predictions, labels=labels)
    assert ref.prediction_spec is not None
    assert (ref.prediction_spec.task, ref.prediction_spec.kind) == (task, kind)
    restored = Reference.from_bytes(ref.to_bytes())
    assert restored.prediction_spec == ref.prediction_spec
    window = restored.new_window()
    window.update({"x": np.arange(50.0)}, predictions=predictions[:50])  # type: ignore[index]
    assert compare(restored, window).prediction["count"] == 50


def test_positive_label_and_task_arguments_are_respected() -> None:
    labels = ["no", "yes", "yes", "no"] * 50
    scores = np.tile([0.2, 0.9, 0.6, 0.4], 50)
    ref = Reference.from_data({"x": np.arange(200.0)}, predictions=scores, labels=labels,
                              positive_label="yes", threshold=0.5)
    assert ref.prediction_spec is not None
    assert ref.prediction_spec.positive_label == "yes"
    assert ref.performance["precision"] == 1.0 and ref.performance["recall"] == 1.0
    assert ref.cbpe is not None
    regression = Reference.from_data({"x": np.arange(200.0)}, predictions=[1, 2] * 100,
                                     task="regression")
    assert regression.task == "regression"
