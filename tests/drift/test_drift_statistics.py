"""Every drift statistic against an independent reference (scipy) on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from infersight.drift import Reference, compare
from infersight.drift.distances import EPSILON, hellinger, js_distance, kl_divergence, psi
from infersight.drift.numeric import FINE_BINS, NumericProfile, wasserstein_binned
from infersight.drift.stattests import (
    KS_ASYMPTOTIC_MIN_EN,
    chi2_two_sample,
    ks_pvalue,
    ks_statistic_binned,
)
from scipy import stats
from scipy.spatial.distance import euclidean, jensenshannon

RNG = np.random.default_rng(20240611)

#: (name, reference sample, current sample) pairs covering no drift, small and large drift,
#: skewed and heavy-tailed data, values outside the reference range, and discrete data.
CASES = {
    "no_drift": (RNG.normal(0, 1, 20_000), RNG.normal(0, 1, 15_000)),
    "small_shift": (RNG.normal(0, 1, 20_000), RNG.normal(0.05, 1, 15_000)),
    "scale": (RNG.normal(0, 1, 20_000), RNG.normal(0, 1.5, 15_000)),
    "big_shift": (RNG.normal(0, 1, 20_000), RNG.normal(3, 1, 15_000)),
    "lognormal": (RNG.lognormal(0, 1, 20_000), RNG.lognormal(0.1, 1.1, 15_000)),
    "student_t": (RNG.standard_t(2, 20_000), RNG.standard_t(2, 15_000) * 1.2),
    "small_n": (RNG.normal(0, 1, 500), RNG.normal(0.3, 1, 200)),
    "discrete": (RNG.integers(0, 7, 20_000).astype(float),
                 RNG.integers(0, 9, 15_000).astype(float)),
}


def _profile_and_state(ref: np.ndarray, cur: np.ndarray):
    profile = NumericProfile.from_values(ref)
    state = profile.new_state()
    for chunk in np.array_split(cur, 3):
        state.update(chunk, profile)
    return profile, state


def _raw_decile_proportions(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference deciles + 2 overflow bins, binned directly from the raw data."""
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)))

    def binned(x: np.ndarray) -> np.ndarray:
        below, above = np.sum(x < edges[0]), np.sum(x > edges[-1])
        inside = np.histogram(x, bins=edges)[0] if edges.size > 1 else [np.sum(x == edges[0])]
        return np.concatenate([[below], inside, [above]]).astype(float)

    return binned(cur), binned(ref)


@pytest.mark.parametrize("case", sorted(CASES))
def test_ks_statistic_is_within_one_fine_bin_of_scipy_exact(case: str) -> None:
    ref, cur = CASES[case]
    profile, state = _profile_and_state(ref, cur)
    ours = ks_statistic_binned(state.counts, profile.ref_counts)
    exact = stats.ks_2samp(ref, cur, method="exact" if len(cur) < 1000 else "asymp").statistic
    assert ours <= exact + 1e-12  # a lower bound: never an invented drift
    assert exact - ours <= max(profile.max_bin_mass(), 1e-12)
    assert exact - ours <= 0.01
    if case == "discrete":
        assert ours == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_ks_pvalue_matches_scipy_asymptotic_and_is_never_smaller(case: str) -> None:
    ref, cur = CASES[case]
    profile, state = _profile_and_state(ref, cur)
    ours = ks_pvalue(ks_statistic_binned(state.counts, profile.ref_counts), cur.size, ref.size)
    scipy_p = stats.ks_2samp(ref, cur, method="asymp").pvalue
    assert ours >= scipy_p - 1e-12
    if case == "discrete":
        assert ours == pytest.approx(scipy_p, rel=1e-9, abs=1e-300)


def test_ks_pvalue_uses_the_effective_sample_size() -> None:
    assert ks_pvalue(0.05, 2000, 3000) == pytest.approx(
        stats.kstwo.sf(0.05, round(2000 * 3000 / 5000)))


@pytest.mark.parametrize("en", [KS_ASYMPTOTIC_MIN_EN, 6000, 50_000])
def test_ks_pvalue_at_large_effective_size_is_the_limiting_law_and_conservative(en: int) -> None:
    """From ``KS_ASYMPTOTIC_MIN_EN`` on, the p-value is scipy's ``kstwobign`` at D·sqrt(en),
    never smaller than scipy's finite-n ``kstwo`` (what ``ks_2samp(method="asymp")`` uses) and
    at most 0.005 above it (the documented bound)."""
    x = np.linspace(0.3, 3.5, 17)  # D·sqrt(en): p-values from ~1 down to ~1e-10
    d = x / np.sqrt(en)
    ours = np.array([ks_pvalue(float(value), 2 * en, 2 * en) for value in d])
    np.testing.assert_allclose(ours, stats.kstwobign.sf(x), rtol=1e-12, atol=0)
    finite_n = stats.kstwo.sf(d, en)
    assert np.all(ours >= finite_n)
    assert np.max(ours - finite_n) <= 0.005


def test_ks_pvalue_below_the_threshold_is_scipys_finite_n_law() -> None:
    en = KS_ASYMPTOTIC_MIN_EN - 1
    assert ks_pvalue(0.03, 2 * en, 2 * en) == pytest.approx(stats.kstwo.sf(0.03, en), rel=1e-12)


def _wasserstein_pair(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """(ours, scipy's) W1 / reference std."""
    profile, state = _profile_and_state(ref, cur)
    scale = float(ref.std()) or 1.0
    return (wasserstein_binned(profile, state) / scale,
            stats.wasserstein_distance(ref, cur) / scale)


@pytest.mark.parametrize("seed", range(40))
def test_wasserstein_is_exact_on_integer_features(seed: int) -> None:
    """2 to 30 distinct integers, few or many rows, any two distributions over them: the
    crossing of the two CDFs inside a bin no longer costs up to a third of the value."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 31))
    support = np.sort(rng.choice(np.arange(-20, 60), size=k, replace=False)).astype(float)
    ref = rng.choice(support, int(rng.integers(30, 3000)), p=rng.dirichlet(np.ones(k)))
    cur = rng.choice(support, int(rng.integers(20, 3000)), p=rng.dirichlet(np.ones(k)))
    cur = cur[np.isin(cur, ref)]  # values the reference has (a new value: see statistics.md)
    ours, expected = _wasserstein_pair(ref, cur)
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("family", ["zero_inflated", "rounded", "small_integers_and_noise"])
def test_wasserstein_holds_its_bound_on_mixed_and_tied_features(family: str, seed: int) -> None:
    """Mixed continuous/discrete features and ties at bin edges: the documented bound."""
    rng = np.random.default_rng(1000 + seed)
    nr, nc = int(rng.integers(200, 5000)), int(rng.integers(50, 5000))
    if family == "zero_inflated":  # a point mass at 0 next to a continuous part
        ref = np.where(rng.random(nr) < rng.uniform(0.1, 0.7), 0.0, rng.exponential(1, nr))
        cur = np.where(rng.random(nc) < rng.uniform(0.1, 0.7), 0.0,
                       rng.exponential(1, nc) + max(rng.normal(0, 0.5), 0.0))
    elif family == "rounded":  # continuous values rounded: ties at many bin edges
        step = float(rng.choice([0.1, 0.5, 1.0]))
        ref = np.round(rng.normal(0, 3, nr) / step) * step
        cur = np.round(rng.normal(rng.normal(0, 1), rng.uniform(2, 4), nc) / step) * step
    else:  # half integers in 0..5, half continuous
        ref = np.where(rng.random(nr) < 0.5, rng.integers(0, 6, nr), rng.uniform(0, 5, nr))
        cur = np.where(rng.random(nc) < rng.uniform(0.2, 0.8), rng.integers(0, 6, nc),
                       rng.uniform(0, 5, nc) + rng.normal(0, 0.3))
    ours, expected = _wasserstein_pair(ref.astype(float), cur.astype(float))
    assert abs(ours - expected) <= 0.005 + 0.03 * expected, (ours, expected)


@pytest.mark.parametrize("case", sorted(CASES))
def test_wasserstein_normed_matches_scipy(case: str) -> None:
    ref, cur = CASES[case]
    profile, state = _profile_and_state(ref, cur)
    ours = wasserstein_binned(profile, state) / ref.std()
    expected = stats.wasserstein_distance(ref, cur) / ref.std()
    if case == "discrete":
        assert ours == pytest.approx(expected, rel=1e-9)
    elif case == "student_t":  # infinite variance: only a loose agreement (documented)
        assert abs(ours - expected) <= 0.02 + 0.15 * expected, (ours, expected)
    else:  # documented tolerance: 0.005 + 3 % of the value
        assert abs(ours - expected) <= 0.005 + 0.03 * expected, (ours, expected)


@pytest.mark.parametrize("case", sorted(CASES))
def test_decile_distances_match_scipy_on_raw_binned_data(case: str) -> None:
    ref, cur = CASES[case]
    profile, state = _profile_and_state(ref, cur)
    ours_p, ours_q = profile.coarse(state.counts), profile.coarse(profile.ref_counts)
    raw_p, raw_q = _raw_decile_proportions(ref, cur)
    np.testing.assert_array_equal(ours_p, raw_p)
    np.testing.assert_array_equal(ours_q, raw_q)
    p, q = raw_p / raw_p.sum(), raw_q / raw_q.sum()
    ps, qs = np.where(p == 0, EPSILON, p), np.where(q == 0, EPSILON, q)
    assert js_distance(ours_p, ours_q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert kl_divergence(ours_p, ours_q) == pytest.approx(stats.entropy(ps, qs), rel=1e-9)
    assert psi(ours_p, ours_q) == pytest.approx(
        stats.entropy(ps, qs) + stats.entropy(qs, ps), rel=1e-9)
    assert hellinger(ours_p, ours_q) == pytest.approx(
        euclidean(np.sqrt(p), np.sqrt(q)) / np.sqrt(2), abs=1e-9)


def test_psi_uses_epsilon_for_empty_bins_like_the_classic_formula() -> None:
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.4, 0.4, 0.2])
    ps = np.array([0.5, 0.5, EPSILON]) / (1 + EPSILON)
    assert psi(p, q) == pytest.approx(float(np.sum((ps - q) * np.log(ps / q))), rel=1e-12)


@pytest.mark.parametrize("current", [[500, 300, 200], [480, 320, 200], [60, 40],
                                     [10, 0, 5, 1], [1000, 1, 1, 1]])
def test_chi2_matches_scipy_contingency(current: list[int]) -> None:
    reference = {3: [5000, 3000, 2000], 2: [600, 400], 4: [100, 3, 50, 0]}[len(current)] \
        if len(current) != 4 or current[0] != 1000 else [900, 50, 40, 10]
    ours_stat, ours_p = chi2_two_sample(current, reference)
    table = np.array([reference, current])
    table = table[:, table.sum(axis=0) > 0]
    expected = stats.chi2_contingency(table)
    assert ours_stat == pytest.approx(expected.statistic, rel=1e-9)
    assert ours_p == pytest.approx(expected.pvalue, rel=1e-9)


def test_categorical_chi2_and_distances_in_compare_match_scipy() -> None:
    ref_values = RNG.choice(["a", "b", "c", "d"], 30_000, p=[0.4, 0.3, 0.2, 0.1])
    cur_values = RNG.choice(["a", "b", "c", "d", "e"], 3_000, p=[0.38, 0.3, 0.2, 0.1, 0.02])
    ref = Reference.from_data({"c": ref_values})
    window = ref.new_window()
    window.update({"c": cur_values})
    metrics = compare(ref, window).features["c"]
    cats = ["a", "b", "c", "d"]
    ref_counts = [int(np.sum(ref_values == c)) for c in cats] + [0]
    cur_counts = [int(np.sum(cur_values == c)) for c in cats] + [int(np.sum(cur_values == "e"))]
    assert metrics["chi2_pvalue"] == pytest.approx(
        stats.chi2_contingency(np.array([ref_counts, cur_counts])).pvalue, rel=1e-9)
    p = np.array(cur_counts) / sum(cur_counts)
    q = np.array(ref_counts) / sum(ref_counts)
    assert metrics["js_distance"] == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert metrics["new_category_rate"] == pytest.approx(cur_counts[-1] / sum(cur_counts))


def test_compare_reports_the_same_numbers_as_the_pure_functions() -> None:
    ref_values, cur_values = CASES["lognormal"]
    ref = Reference.from_data({"x": ref_values})
    window = ref.new_window()
    window.update({"x": cur_values})
    metrics = compare(ref, window).features["x"]
    assert metrics["ks_statistic"] == pytest.approx(
        stats.ks_2samp(ref_values, cur_values).statistic, abs=1.0 / FINE_BINS)
    assert metrics["wasserstein_normed"] == pytest.approx(
        stats.wasserstein_distance(ref_values, cur_values) / ref_values.std(), rel=0.03,
        abs=0.005)
    raw_p, raw_q = _raw_decile_proportions(ref_values, cur_values)
    assert metrics["js_distance"] == pytest.approx(
        jensenshannon(raw_p / raw_p.sum(), raw_q / raw_q.sum(), base=2), abs=1e-12)
    assert metrics["count"] == cur_values.size and metrics["missing_rate"] == 0.0
