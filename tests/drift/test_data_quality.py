"""Unexpected features (names the reference never had) in the window state, bounded and
merged exactly in any order; and the missing-rate test's points, against pandas' counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from infersight.drift import Reference, _codec, compare
from infersight.drift.quality import (
    MAX_UNEXPECTED_FEATURES,
    OTHER_FEATURES,
    UnexpectedFeatures,
    missing_rate_points,
)
from infersight.drift.window import WindowState


def events(rng: np.random.Generator, n: int, extra: list[str]) -> list[dict[str, object]]:
    """Events with ``x`` and, for each extra name, a value in some rows (None in others)."""
    out = []
    for _ in range(n):
        features: dict[str, object] = {"x": float(rng.normal())}
        for name in extra:
            draw = rng.uniform()
            if draw < 0.4:
                features[name] = "v"
            elif draw < 0.5:
                features[name] = None
        out.append({"features": features, "prediction": 0.5})
    return out


def test_unexpected_names_are_counted_per_window_as_pandas_counts_them() -> None:
    rng = np.random.default_rng(1)
    ref = Reference.from_data({"x": rng.normal(size=500)})
    batch = events(rng, 400, ["device", "zip"])
    state = ref.new_window()
    state.update(batch)
    frame = pd.DataFrame([e["features"] for e in batch])
    expected = {name: int(frame[name].notna().sum()) for name in ("device", "zip")}
    report = compare(ref, state)
    assert report.unexpected == expected and min(expected.values()) > 100
    assert report.model["unexpected_features"] == 2.0
    rows = {(r.feature, r.metric): (r.value, r.sample_size) for r in report.rows()}
    assert rows[("zip", "unexpected_feature")] == (float(expected["zip"]), 400)
    assert rows[("zip", "schema_change")] == (1.0, 400)
    assert rows[("x", "schema_change")] == (0.0, 400)
    assert report.to_dict()["unexpected_features"] == expected
    # a DataFrame and a mapping batch count the same way
    for form in (frame, {c: frame[c].tolist() for c in frame.columns}):
        other = ref.new_window()
        other.update(form)
        assert other.unexpected.listed() == expected


def test_a_window_without_unexpected_names_lists_none() -> None:
    ref = Reference.from_data({"x": np.arange(100.0)})
    state = ref.new_window()
    state.update({"x": [1.0, 2.0]})
    report = compare(ref, state)
    assert report.unexpected == {} and report.model["unexpected_features"] == 0.0
    assert not any(r.metric == "unexpected_feature" for r in report.rows())


def test_names_beyond_the_bound_are_counted_as_other_and_any_split_merges_to_the_whole() -> None:
    rng = np.random.default_rng(2)
    ref = Reference.from_data({"x": rng.normal(size=500)})
    names = [f"extra_{i}" for i in range(3 * MAX_UNEXPECTED_FEATURES)]
    batch = events(rng, 600, names)
    whole = ref.new_window()
    whole.update(batch)
    assert len(whole.unexpected.counts) == MAX_UNEXPECTED_FEATURES
    frame = pd.DataFrame([e["features"] for e in batch])
    carried = {n: int(frame[n].notna().sum()) for n in names}
    assert sum(whole.unexpected.listed().values()) == sum(carried.values())
    assert all(carried[n] == c for n, c in whole.unexpected.counts.items())
    for seed in range(5):
        order = np.random.default_rng(seed).permutation(len(batch))
        cuts = sorted(np.random.default_rng(seed + 10).choice(len(batch), 6, replace=False))
        parts = []
        for piece in np.split(order, cuts):
            part = ref.new_window()
            part.update([batch[i] for i in piece])
            parts.append(part)
        merged = ref.new_window()
        for part in reversed(parts):
            merged.merge(ref.window_from_bytes(part.to_bytes()))
        assert merged.unexpected == whole.unexpected
    assert compare(ref, whole).unexpected[OTHER_FEATURES] == whole.unexpected.other > 0


def test_a_state_stored_before_unexpected_features_were_kept_still_reads() -> None:
    ref = Reference.from_data({"x": np.arange(100.0)})
    state = ref.new_window()
    state.update([{"features": {"x": 1.0, "new": 2.0}}])
    version, body = _codec.unpack(state.to_bytes(), b"ISWN", (1, 2))
    assert body["unexpected"] == {"names": {"new": 1}, "other": 0}
    del body["unexpected"]
    old = WindowState.from_bytes(_codec.pack(b"ISWN", version, body), ref)
    assert old.unexpected == UnexpectedFeatures() and old.rows == 1
    assert compare(ref, old).unexpected == {}


@pytest.mark.parametrize("window_rate, reference_rate", [(0.012, 0.01), (0.2, 0.05), (0.9, 0.6)])
def test_missing_rate_points_against_pandas_counts(window_rate: float,
                                                   reference_rate: float) -> None:
    rng = np.random.default_rng(3)
    reference = pd.Series(rng.normal(size=5000)).mask(rng.uniform(size=5000) < reference_rate)
    window = pd.Series(rng.normal(size=800)).mask(rng.uniform(size=800) < window_rate)
    window.iloc[:3] = np.inf  # invalid values count as missing, as in missing_rate
    ref = Reference.from_data({"x": reference.to_numpy()})
    state = ref.new_window()
    state.update({"x": window.to_numpy()})
    metrics = compare(ref, state).features["x"]
    p = float((window.isna() | np.isinf(window)).mean())
    q = float(reference.isna().mean())
    assert metrics["missing_rate"] == pytest.approx(p, abs=1e-15)
    assert metrics["reference_missing_rate"] == pytest.approx(q, abs=1e-15)
    pooled = float(pd.concat([reference.isna(), window.isna() | np.isinf(window)]).mean())
    largest = max(p * (1 - p), q * (1 - q), pooled * (1 - pooled))
    assert metrics["missing_rate_stderr"] == pytest.approx(np.sqrt(largest / 800), rel=1e-12)
    assert metrics["reference_missing_rate_stderr"] == pytest.approx(
        np.sqrt(largest / 5000), rel=1e-12)
    rows = {r.metric: r.sample_size for r in compare(ref, state).rows() if r.feature == "x"}
    assert rows["missing_rate_stderr"] == 800 and rows["reference_missing_rate"] == 5000


def test_missing_rate_points_need_rows_on_both_sides() -> None:
    assert missing_rate_points(0, 0, 1, 10) == {}
    assert missing_rate_points(1, 10, 0, 0) == {}
