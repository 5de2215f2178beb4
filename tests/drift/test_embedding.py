"""Embedding drift against independent code: scikit-learn's PCA, numpy means and distances,
scipy's KS on the same bins with Benjamini-Hochberg; exact merging; bounded state; detection
of a topic-mix shift and no false alarm on an unchanged stream."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from infersight.drift.embedding import (
    COMPONENTS,
    SIGNIFICANCE,
    EmbeddingProfile,
    EmbeddingState,
)
from scipy import stats
from scipy.spatial import distance
from sklearn.decomposition import PCA

DIM = 64


def topics(rng: np.random.Generator, n: int, mix: list[float], dim: int = DIM) -> np.ndarray:
    """Sentence-embedding-like vectors: one of four topic centres plus noise, unit length."""
    centres = np.random.default_rng(99).normal(size=(4, dim))
    picked = rng.choice(4, n, p=mix)
    vectors = centres[picked] + 0.8 * rng.normal(size=(n, dim))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


MIX = [0.4, 0.3, 0.2, 0.1]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return topics(np.random.default_rng(1), 8000, MIX)


@pytest.fixture(scope="module")
def profile(reference: np.ndarray) -> EmbeddingProfile:
    return EmbeddingProfile.fit(reference)


def halves(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The seeded halves the profile is documented to fit on and to bin."""
    order = np.random.default_rng(0).permutation(len(reference))
    half = len(reference) // 2
    return reference[np.sort(order[:half])], reference[np.sort(order[half:])]


def test_components_are_scikit_learns_pca_of_the_fitting_half(
        profile: EmbeddingProfile, reference: np.ndarray) -> None:
    fitted, _ = halves(reference)
    pca = PCA(n_components=COMPONENTS, svd_solver="full").fit(fitted)
    signs = np.sign(np.sum(pca.components_ * profile.components, axis=1))
    np.testing.assert_allclose(profile.components, pca.components_ * signs[:, None], atol=1e-8)
    np.testing.assert_allclose(profile.mean, reference.mean(axis=0), rtol=1e-12)
    assert profile.scale == pytest.approx(np.sqrt(np.trace(np.cov(fitted.T))), rel=1e-9)


def test_mean_distances_equal_numpy_and_scipy(profile: EmbeddingProfile) -> None:
    window = topics(np.random.default_rng(2), 700, [0.1, 0.2, 0.3, 0.4])
    state = profile.new_state()
    state.update(window, profile)
    metrics = profile.metrics(state)
    np.testing.assert_allclose(state.mean(), window.mean(axis=0), rtol=1e-12, atol=1e-15)
    expected = np.linalg.norm(window.mean(axis=0) - profile.mean) / profile.scale
    assert metrics["embedding_mean_distance"] == pytest.approx(expected, rel=1e-10)
    assert metrics["embedding_mean_cosine_distance"] == pytest.approx(
        distance.cosine(window.mean(axis=0), profile.mean), rel=1e-9)


def test_drifted_share_equals_scipys_ks_per_component_with_benjamini_hochberg(
        profile: EmbeddingProfile, reference: np.ndarray) -> None:
    window = topics(np.random.default_rng(3), 600, [0.3, 0.3, 0.25, 0.15])
    state = profile.new_state()
    state.update(window, profile)
    _, binned = halves(reference)
    raw = []
    for k, component in enumerate(profile.components):
        edges = np.append(profile.projections[k].edges,
                          np.nextafter(profile.projections[k].edges[-1], np.inf))
        ref_bins = np.searchsorted(edges, (binned - profile.mean) @ component, side="right")
        win_bins = np.searchsorted(edges, (window - profile.mean) @ component, side="right")
        d = stats.ks_2samp(ref_bins, win_bins).statistic
        en = round(len(ref_bins) * len(win_bins) / (len(ref_bins) + len(win_bins)))
        raw.append(stats.kstwo.sf(d, en))
    adjusted = stats.false_discovery_control(raw, method="bh")
    np.testing.assert_allclose(profile.component_pvalues(state), adjusted, rtol=1e-9)
    share = float(np.mean(adjusted < SIGNIFICANCE))
    assert 0 < share < 1  # a partial shift: the comparison is not trivially all or nothing
    assert profile.metrics(state)["embedding_drifted_components"] == share


def test_any_split_of_a_window_merges_to_the_whole_bit_for_bit(
        profile: EmbeddingProfile) -> None:
    rows = topics(np.random.default_rng(4), 1000, MIX)
    whole = profile.new_state()
    whole.update(rows, profile)
    for cuts in ([1, 500], [333, 334, 999], [10 * i for i in range(1, 100)]):
        parts = [profile.new_state() for _ in range(len(cuts) + 1)]
        for part, chunk in zip(parts, np.split(rows, cuts), strict=True):
            part.update(chunk, profile)
        merged = profile.new_state()
        for part in reversed(parts):
            merged.merge(part)
        assert merged == whole
        assert profile.metrics(merged) == profile.metrics(whole)


def test_state_and_profile_survive_serialisation_and_a_384_dimension_state_stays_small() -> None:
    rng = np.random.default_rng(5)
    profile = EmbeddingProfile.fit(topics(rng, 4000, MIX, dim=384))
    state = profile.new_state()
    for _ in range(20):
        state.update(topics(rng, 1000, MIX, dim=384), profile)
    blob = msgspec.msgpack.encode(state.to_dict())
    assert len(blob) <= 64 * 1024, len(blob)
    assert EmbeddingState.from_dict(msgspec.msgpack.decode(blob)) == state
    again = EmbeddingProfile.from_dict(msgspec.msgpack.decode(
        msgspec.msgpack.encode(profile.to_dict())))
    assert again.metrics(state) == profile.metrics(state)


def test_a_topic_mix_shift_is_flagged_and_an_unchanged_stream_is_not(
        profile: EmbeddingProfile) -> None:
    rng = np.random.default_rng(6)
    alarms = 0
    for _ in range(300):
        state = profile.new_state()
        state.update(topics(rng, 1000, MIX), profile)
        alarms += int(profile.metrics(state)["embedding_drift"])
    assert alarms == 0  # the alert-quality budget: at most 1 in 1,000 windows
    shifted = profile.new_state()
    shifted.update(topics(rng, 1000, [0.1, 0.2, 0.3, 0.4]), profile)
    assert profile.metrics(shifted)["embedding_drift"] == 1.0


def test_wrong_shapes_and_non_finite_references_are_refused(profile: EmbeddingProfile) -> None:
    with pytest.raises(ValueError, match="components"):
        profile.new_state().update(np.zeros((3, DIM + 1)), profile)
    with pytest.raises(ValueError, match="finite"):
        EmbeddingProfile.fit(np.array([[0.0, np.nan], [1.0, 2.0]]))
