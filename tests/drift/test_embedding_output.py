"""An embedding model (its output is a vector, not class probabilities): the output is
profiled and compared like an embedding feature, its drift is prediction drift, and class
probabilities are still read as classification."""

from __future__ import annotations

import numpy as np
import pytest
from infersight.drift import Reference, compare
from infersight.drift.predictions import PredictionSpec
from scipy.spatial import distance
from test_embedding import MIX, topics


@pytest.fixture(scope="module")
def reference_vectors() -> np.ndarray:
    return topics(np.random.default_rng(11), 6000, MIX)


@pytest.fixture(scope="module")
def reference(reference_vectors: np.ndarray) -> Reference:
    rng = np.random.default_rng(12)
    return Reference.from_data({"x": rng.normal(size=len(reference_vectors))},
                               predictions=list(reference_vectors))


def test_vector_outputs_that_are_not_probabilities_make_an_embedding_model(
        reference: Reference) -> None:
    assert reference.task == "embedding" and reference.performance == {}
    assert PredictionSpec.infer([[0.2, 0.8], [0.6, 0.4]], labels=[1, 0]).task == "binary"
    assert PredictionSpec.infer([[0.2, 0.5, 0.3]] * 3).task == "multiclass"
    assert PredictionSpec.infer([[0.2, 0.5, 0.6]] * 3).task == "embedding"  # sums to 1.3
    assert PredictionSpec.infer([[0.2, 0.8]] * 3, task="embedding").task == "embedding"


def test_the_outputs_drift_metrics_are_the_embedding_features_on_the_same_vectors(
        reference: Reference, reference_vectors: np.ndarray) -> None:
    rng = np.random.default_rng(13)
    as_feature = Reference.from_data({"v": list(reference_vectors)})
    current = topics(rng, 1500, [0.1, 0.2, 0.3, 0.4])
    window, feature_window = reference.new_window(), as_feature.new_window()
    window.update({"x": rng.normal(size=1500)}, predictions=list(current))
    feature_window.update({"v": list(current)})
    report = compare(reference, window)
    as_input = compare(as_feature, feature_window).features["v"]
    schema = {"feature_missing", "schema_change"}  # an input's presence, not an output's
    assert report.prediction == {k: v for k, v in as_input.items() if k not in schema}
    assert report.prediction["embedding_mean_cosine_distance"] == pytest.approx(
        distance.cosine(current.mean(axis=0), reference_vectors.mean(axis=0)), rel=1e-9)
    assert report.prediction_drifted and report.drift_share == 0.0  # inputs unchanged


def test_an_unchanged_output_does_not_drift_and_any_split_merges_exactly(
        reference: Reference) -> None:
    rng = np.random.default_rng(14)
    vectors = topics(rng, 2000, MIX)
    whole = reference.new_window()
    whole.update({"x": rng.normal(size=2000)}, predictions=vectors)
    merged = reference.new_window()
    for start, stop in ((0, 1), (1, 700), (700, 2000)):
        part = reference.new_window()
        part.update({"x": np.zeros(stop - start)}, predictions=list(vectors[start:stop]))
        merged.merge(reference.window_from_bytes(part.to_bytes()))
    assert compare(reference, whole).prediction["embedding_drift"] == 0.0
    assert compare(reference, merged).prediction == compare(reference, whole).prediction


def test_labels_of_an_embedding_model_are_not_scored_and_it_survives_bytes(
        reference: Reference) -> None:
    window = reference.new_window()
    window.add_labels([1, 0], [[0.1] * 64, [0.2] * 64])
    assert compare(reference, window).performance == {}
    restored = Reference.from_bytes(reference.to_bytes())
    assert restored.task == "embedding" and restored.fingerprint == reference.fingerprint
