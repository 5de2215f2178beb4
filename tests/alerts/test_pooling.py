"""Pooled evidence against independent references: scipy's weighted Stouffer combination,
the shared reference's error counted once, and the level of the test on simulated windows."""

from __future__ import annotations

import numpy as np
import pytest
from infersight.alerts.pooling import Observation, pool
from scipy import stats


def worse(value: float, baseline: float) -> float:
    return baseline - value


def test_pooled_z_is_scipys_weighted_stouffer_combination() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        k = int(rng.integers(1, 13))
        stderr = rng.uniform(0.005, 0.05, k)
        baseline_stderr = rng.uniform(0.0, 0.03, k)
        gap = rng.normal(0.01, 0.02, k)
        windows = [Observation(value=0.8 - g, stderr=s, limit=0.79, baseline=0.8,
                               baseline_stderr=b)
                   for g, s, b in zip(gap, stderr, baseline_stderr, strict=True)]
        spread = np.hypot(stderr, baseline_stderr)
        # one-sided p of each window's z, combined with weights 1/spread (Stouffer)
        _, p = stats.combine_pvalues(stats.norm.sf(gap / spread), method="stouffer",
                                     weights=1 / spread)
        assert pool(windows, worse=worse).z == pytest.approx(stats.norm.isf(p), rel=1e-9)


def test_the_reference_error_is_shared_so_more_windows_cannot_outgrow_it() -> None:
    window = Observation(value=0.79, stderr=0.01, limit=0.79, baseline=0.80)
    one = pool([window], worse=worse, reference_stderr=0.005)
    many = pool([window] * 10_000, worse=worse, reference_stderr=0.005)
    assert one.z == pytest.approx(0.01 / np.hypot(0.01, 0.005))
    assert many.z == pytest.approx(0.01 / np.hypot(0.01 / 100, 0.005))
    assert many.z < 0.01 / 0.005  # bounded by the reference's own error
    assert many.value_stderr == pytest.approx(0.01 / 100)


def test_the_pooled_value_weights_windows_by_their_precision() -> None:
    precise = Observation(value=0.70, stderr=0.01, limit=0.79, baseline=0.80, sample_size=9000)
    noisy = Observation(value=0.90, stderr=0.03, limit=0.79, baseline=0.80, sample_size=1000)
    evidence = pool([precise, noisy], worse=worse)
    assert evidence.value == pytest.approx((0.70 * 9 + 0.90) / 10)  # weights 1/se²: 9 to 1
    assert evidence.sample_size == 10_000 and evidence.windows == 2
    low, high = evidence.interval
    assert high - low == pytest.approx(2 * 1.959963984540054 * np.sqrt(1 / (1e4 + 1e4 / 9)))


def test_under_no_change_a_horizon_breaches_at_its_level() -> None:
    """Windows of a stable metric, with a reference estimated once per simulated model:
    the pooled z over 12 windows exceeds the 0.01 quantile in 1 % of (model, window) draws."""
    rng = np.random.default_rng(11)
    models, windows, se, se_ref = 400, 60, 0.02, 0.008
    exceed = 0
    for _ in range(models):
        reference = 0.8 + rng.normal(0, se_ref)  # the reference itself is an estimate
        values = 0.8 + rng.normal(0, se, windows)
        for end in range(12, windows):
            series = [Observation(value=v, stderr=se, limit=reference, baseline=reference)
                      for v in values[end - 12:end]]
            exceed += pool(series, worse=worse, reference_stderr=se_ref).z >= 2.326
    rate = exceed / (models * (windows - 12))
    assert 0.006 < rate < 0.014
