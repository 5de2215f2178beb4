"""Latency histogram: quantiles within the documented error of numpy's inverted-CDF quantile,
merges of any split identical to the whole, compact and versioned serialisation."""

from __future__ import annotations

import itertools
import math

import datasketches as ds
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from infersight.drift import FormatError, Reference, WindowState, _codec
from infersight.drift.loghist import LOWEST, RELATIVE_ERROR, LogHistogram

LEVELS = [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0]


def _latencies(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "lognormal":
        return rng.lognormal(2.0, 1.5, n)
    if kind == "exponential":
        return rng.exponential(5.0, n)
    return np.round(rng.uniform(0, 20, n), 2)  # ties and exact zeros, as the SDK rounds


def _within_bound(estimate: float, truth: float) -> bool:
    if truth < LOWEST:
        return abs(estimate - truth) < LOWEST
    return abs(estimate - truth) <= RELATIVE_ERROR * truth * (1 + 1e-12)


@pytest.mark.parametrize("kind", ["lognormal", "exponential", "rounded"])
@pytest.mark.parametrize("n", [1, 7, 1000, 100_000])
def test_quantiles_are_within_the_relative_error_of_numpy_inverted_cdf(kind: str, n: int) -> None:
    values = _latencies(kind, n, seed=n)
    hist = LogHistogram()
    hist.update(values)
    truths = np.quantile(values, LEVELS, method="inverted_cdf")
    for q, estimate, truth in zip(LEVELS, hist.quantiles(LEVELS), truths, strict=True):
        assert _within_bound(estimate, float(truth)), (q, estimate, truth)
    assert hist.quantile(0.0) == values.min() and hist.quantile(1.0) == values.max()


def test_the_error_bound_is_reached_but_never_exceeded() -> None:
    values = np.geomspace(LOWEST, 3.5e6, 200_001)  # every bin, edges and midpoints alike
    hist = LogHistogram()
    hist.update(values)
    levels = np.linspace(0, 1, 2001)
    truths = np.quantile(values, levels, method="inverted_cdf")
    errors = np.abs(np.array(hist.quantiles(levels)) - truths) / truths
    assert errors.max() <= RELATIVE_ERROR * (1 + 1e-12)
    assert errors.max() > 0.9 * RELATIVE_ERROR  # the bound is tight, not loose


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(0, 3000),
       cuts=st.lists(st.integers(0, 3000), max_size=8), order_seed=st.integers(0, 2**31 - 1),
       kind=st.sampled_from(["lognormal", "exponential", "rounded"]))
def test_merging_any_split_in_any_order_equals_the_whole_exactly(
        seed: int, n: int, cuts: list[int], order_seed: int, kind: str) -> None:
    values = _latencies(kind, n, seed)
    whole = LogHistogram()
    whole.update(values)
    parts = []
    for lo, hi in itertools.pairwise([0, *sorted(min(c, n) for c in cuts), n]):
        part = LogHistogram()
        part.update(values[lo:hi])
        parts.append(part)
    np.random.default_rng(order_seed).shuffle(parts)
    merged = LogHistogram()
    for part in parts:
        merged.merge(LogHistogram.from_dict(part.to_dict()))
    assert merged == whole
    assert merged.to_dict() == whole.to_dict()
    if n:
        assert merged.quantiles(LEVELS) == whole.quantiles(LEVELS)


def test_serialised_size_is_small() -> None:
    hist = LogHistogram()
    hist.update(_latencies("lognormal", 100_000, seed=3))
    size = len(_codec.pack(b"TEST", 1, hist.to_dict()))
    occupied = int(np.count_nonzero(hist.counts))
    assert size <= 4 * occupied + 100  # 2-byte slot index + ≤ 2-byte count each
    assert size < 5_000, size
    empty = len(_codec.pack(b"TEST", 1, LogHistogram().to_dict()))
    assert empty < 60


def test_bad_values_and_levels_are_refused_with_reasons() -> None:
    hist = LogHistogram()
    for bad in ([-1.0], [math.nan], [math.inf]):
        with pytest.raises(ValueError, match="finite and >= 0"):
            hist.update(bad)
    with pytest.raises(ValueError, match="whole numbers"):
        hist.update([1.0], weights=[0.5])
    with pytest.raises(ValueError, match="empty"):
        hist.quantile(0.5)
    hist.update([1.0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        hist.quantile(1.5)
    with pytest.raises(TypeError):
        hist.merge(object())  # type: ignore[arg-type]
    payload = hist.to_dict()
    with pytest.raises(FormatError):
        LogHistogram.from_dict({**payload, "n": 5})
    with pytest.raises(FormatError):
        LogHistogram.from_dict({"i": b"\xff\xff", "c": payload["c"], "n": 1, "min": 1, "max": 1})
    with pytest.raises(FormatError):
        LogHistogram.from_dict({})


def test_window_states_of_format_1_with_a_kll_sketch_are_still_read() -> None:
    reference = Reference.from_data({"x": np.arange(100.0)})
    latency = _latencies("exponential", 5000, seed=11)
    window = reference.new_window()
    window.update({"x": np.arange(5000.0)}, latency_ms=latency)
    version, body = _codec.unpack(window.to_bytes(), b"ISWN", (2,))
    assert version == 2
    sketch = ds.kll_floats_sketch(200)
    sketch.update(latency.astype(np.float32))
    old = _codec.pack(b"ISWN", 1, {**body, "latency": sketch.serialize()})
    restored = WindowState.from_bytes(old, reference)
    assert restored.rows == 5000 and restored.latency.n == 5000
    truths = np.quantile(latency, [0.5, 0.95, 0.99], method="inverted_cdf")
    got = list(restored.latency_quantiles().values())
    eps = sketch.normalized_rank_error(False)
    for q, value in zip([0.5, 0.95, 0.99], got, strict=True):  # within KLL rank error + a bin
        lo, hi = np.quantile(latency, [max(0, q - 2 * eps), min(1, q + 2 * eps)])
        assert lo * (1 - RELATIVE_ERROR) <= value <= hi * (1 + RELATIVE_ERROR), (q, value, truths)
    assert _codec.unpack(restored.to_bytes(), b"ISWN", (2,))[0] == 2  # rewritten as format 2
