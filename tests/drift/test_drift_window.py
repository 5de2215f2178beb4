"""Window state: exact merge over any split of a stream, serialisation, every batch form."""

from __future__ import annotations

import itertools
import json
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from infersight.drift import FormatError, Reference, WindowState, compare
from infersight.drift.numeric import NumericState

RNG = np.random.default_rng(7)
N_REF = 5_000


def _reference_data(n: int, rng: np.random.Generator) -> dict[str, Any]:
    return {"amount": rng.lognormal(3, 1, n), "age": rng.integers(18, 90, n).astype(float),
            "city": rng.choice(["paris", "rome", "oslo", "lima"], n, p=[0.4, 0.3, 0.2, 0.1])}


REF_DATA = _reference_data(N_REF, RNG)
SCORES = RNG.uniform(size=N_REF)
REFERENCE = Reference.from_data(REF_DATA, predictions=SCORES,
                                labels=(RNG.uniform(size=N_REF) < SCORES).astype(int))


def _stream(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(_reference_data(n, rng))
    frame.loc[rng.uniform(size=n) < 0.05, "amount"] = np.nan
    frame.loc[rng.uniform(size=n) < 0.01, "amount"] = 1e9  # above the reference range
    frame.loc[rng.uniform(size=n) < 0.03, "city"] = "berlin"  # never seen in the reference
    frame.loc[rng.uniform(size=n) < 0.02, "city"] = None
    return frame, rng.uniform(size=n), rng.exponential(5.0, n)


def _assert_same_state(a: WindowState, b: WindowState) -> None:
    assert a.rows == b.rows
    for name, sa in a.features.items():
        sb = b.features[name]
        np.testing.assert_array_equal(sa.counts, sb.counts)
        assert (sa.count, sa.missing) == (sb.count, sb.missing)
        if isinstance(sa, NumericState) and isinstance(sb, NumericState):
            assert sa.invalid == sb.invalid and (sa.min, sa.max) == (sb.min, sb.max)
            assert sa.mean == pytest.approx(sb.mean, rel=1e-12, abs=1e-12)
            assert sa.m2 == pytest.approx(sb.m2, rel=1e-9)
            np.testing.assert_allclose(sa.tail_sums, sb.tail_sums, rtol=1e-12)
    assert a.prediction is not None and b.prediction is not None
    np.testing.assert_array_equal(a.prediction.counts, b.prediction.counts)
    assert a.score_counts is not None and b.score_counts is not None
    np.testing.assert_array_equal(a.score_counts, b.score_counts)
    assert a.latency == b.latency
    assert a.latency_quantiles() == b.latency_quantiles()  # deterministic: bit for bit


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), cuts=st.lists(st.integers(0, 3000), max_size=6),
       order_seed=st.integers(0, 2**31 - 1))
def test_merging_any_split_in_any_order_equals_one_state_over_the_stream(
        seed: int, cuts: list[int], order_seed: int) -> None:
    frame, scores, latency = _stream(3000, seed)
    whole = REFERENCE.new_window()
    whole.update(frame, predictions=scores, latency_ms=latency)
    bounds = [0, *sorted(cuts), 3000]
    parts = []
    for lo, hi in itertools.pairwise(bounds):
        part = REFERENCE.new_window()
        part.update(frame.iloc[lo:hi], predictions=scores[lo:hi], latency_ms=latency[lo:hi])
        parts.append(part)
    np.random.default_rng(order_seed).shuffle(parts)
    merged = REFERENCE.new_window()
    for part in parts:  # through bytes too: the worker stores and reloads states
        merged.merge(WindowState.from_bytes(part.to_bytes()))
    _assert_same_state(whole, merged)
    a, b = compare(REFERENCE, whole), compare(REFERENCE, merged)
    assert a.features["city"] == b.features["city"]
    for metric in ("psi", "ks_statistic", "js_distance", "chi2_pvalue"):
        for name in ("amount", "city"):
            if metric in a.features[name]:
                assert a.features[name][metric] == pytest.approx(b.features[name][metric])


def test_round_trip_keeps_every_number_and_reports_identically() -> None:
    frame, scores, latency = _stream(2000, 1)
    window = REFERENCE.new_window()
    window.update(frame, predictions=scores, latency_ms=latency)
    window.add_labels((scores > 0.4).astype(int), scores)
    restored = REFERENCE.window_from_bytes(window.to_bytes())
    _assert_same_state(window, restored)
    assert restored.to_bytes() == window.to_bytes()
    assert compare(REFERENCE, restored).to_dict() == compare(REFERENCE, window).to_dict()
    detached = WindowState.from_bytes(window.to_bytes())
    with pytest.raises(ValueError, match="not bound"):
        detached.update(frame)
    detached.attach(REFERENCE)
    detached.update(frame.iloc[:10])
    assert detached.rows == window.rows + 10


def test_reference_round_trip_gives_the_same_comparisons() -> None:
    restored = Reference.from_bytes(REFERENCE.to_bytes())
    assert restored.fingerprint == REFERENCE.fingerprint
    assert restored.feature_kinds == REFERENCE.feature_kinds
    assert restored.performance == REFERENCE.performance
    frame, scores, _ = _stream(1000, 2)
    w1, w2 = REFERENCE.new_window(), restored.new_window()
    w1.update(frame, predictions=scores)
    w2.update(frame, predictions=scores)
    assert compare(REFERENCE, w1).to_dict() == compare(restored, w2).to_dict()
    assert restored.to_bytes() == REFERENCE.to_bytes()


def test_serialised_window_is_compact() -> None:
    rng = np.random.default_rng(3)
    names = [f"f{i}" for i in range(20)]
    ref = Reference.from_data({n: rng.normal(size=50_000) for n in names})
    window = ref.new_window()
    window.update({n: rng.normal(size=100_000) for n in names})
    assert len(window.to_bytes()) / len(names) <= 4096


def test_corrupt_or_foreign_bytes_are_rejected_with_a_reason() -> None:
    good = REFERENCE.new_window().to_bytes()
    for bad, reason in [(b"", "magic"), (b"XXXX\x01abc", "magic"), (good[:4] + b"\x09" + good[5:],
                                                                     "version"),
                        (good[:5] + b"\xc1\xc1", "corrupt")]:
        with pytest.raises(FormatError, match=reason):
            WindowState.from_bytes(bad)
    with pytest.raises(FormatError):
        Reference.from_bytes(good)
    other = Reference.from_data({"amount": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="different reference"):
        other.window_from_bytes(good)
    with pytest.raises(ValueError, match="different references"):
        other.new_window().merge(REFERENCE.new_window())


class Event(msgspec.Struct):
    features: dict[str, Any]
    prediction: Any = None
    latency_ms: float | None = None


def test_events_dicts_structs_rows_and_frames_give_the_same_state() -> None:
    frame, scores, latency = _stream(500, 4)
    records = frame.replace({np.nan: None}).to_dict("records")
    dict_events = [{"type": "prediction", "features": r, "prediction": float(s),
                    "latency_ms": float(lt)} for r, s, lt in zip(records, scores, latency,
                                                                 strict=True)]
    struct_events = [Event(r, float(s), float(lt)) for r, s, lt in zip(records, scores, latency,
                                                                         strict=True)]
    from_frame = REFERENCE.new_window()
    from_frame.update(frame, predictions=scores, latency_ms=latency)
    for batch in (dict_events, struct_events):
        window = REFERENCE.new_window()
        window.update(batch)
        _assert_same_state(from_frame, window)
    rows = REFERENCE.new_window()
    rows.update(records, predictions=scores, latency_ms=latency)
    _assert_same_state(from_frame, rows)
    mapping = REFERENCE.new_window()
    mapping.update({k: frame[k].to_numpy() for k in frame.columns}, predictions=list(scores),
                   latency_ms=latency)
    _assert_same_state(from_frame, mapping)


def test_events_with_missing_features_and_odd_predictions_are_counted_not_fatal() -> None:
    events = [{"features": {"amount": 10.0}, "prediction": {"label": 1, "score": 0.8}},
              {"features": {"city": "rome", "extra": 1}, "prediction": [0.3, 0.7]},
              {"features": {}, "prediction": None, "latency_ms": None},
              {"features": {"amount": "abc", "age": float("inf")}, "prediction": "weird"}]
    window = REFERENCE.new_window()
    window.update(events)
    amount = window.features["amount"]
    assert isinstance(amount, NumericState)
    assert (amount.count, amount.n, amount.missing, amount.invalid) == (4, 1, 2, 1)
    age = window.features["age"]
    assert isinstance(age, NumericState) and (age.missing, age.invalid) == (3, 1)
    assert window.features["city"].missing == 3
    assert window.prediction is not None and window.prediction.n == 2
    report = compare(REFERENCE, window)
    json.dumps(report.to_dict(), allow_nan=False)


def test_ten_million_values_in_chunks_keep_memory_flat() -> None:
    import tracemalloc

    ref = Reference.from_data({"x": np.random.default_rng(5).normal(size=10_000)})
    window = ref.new_window()
    rng = np.random.default_rng(6)
    chunk = 500_000
    window.update({"x": rng.normal(size=chunk)})
    tracemalloc.start()
    peaks = []
    for _ in range(19):
        window.update({"x": rng.normal(size=chunk)})
        peaks.append(tracemalloc.get_traced_memory()[1])
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert window.features["x"].n == 10_000_000
    assert peaks[-1] - peaks[2] < 50_000  # the peak stopped growing after the first chunks
    assert peaks[-1] < 6 * chunk * 8  # a few chunk-sized temporaries
    assert retained < 100_000  # nothing kept per value
    assert len(window.to_bytes()) < 8192
    assert not compare(ref, window).drifted("x")
