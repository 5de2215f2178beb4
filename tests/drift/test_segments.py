"""Segments: vocabulary, per-segment metrics against scikit-learn/scipy on each segment's
rows, exact merge under any split, old bytes, and the state size bound."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pytest
from infersight.drift import Reference, WindowState, _codec
from infersight.drift.segment_drift import segment_drift
from infersight.drift.segments import (
    MISSING,
    OTHER,
    SegmentResult,
    compare_segments,
    rank_segments,
    segment_columns,
)
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    recall_score,
    roc_auc_score,
)

DATA = Path(__file__).parent / "data"
COUNTRIES = ["BR", "US", "FR", "DE", "JP", "MX"]
TOP_K = 3  # BR, US, FR kept; DE, JP, MX (and unseen values) are @other


def _frame(n: int, rng: np.random.Generator, shifted: bool = False) -> pd.DataFrame:
    country = rng.choice([*COUNTRIES, "ZZ"] if shifted else COUNTRIES, n,
                         p=[0.33, 0.25, 0.15, 0.1, 0.08, 0.05, 0.04] if shifted
                         else [0.35, 0.25, 0.15, 0.12, 0.08, 0.05]).astype(object)
    country[rng.uniform(size=n) < 0.05] = None
    frame = pd.DataFrame({"country": country, "x": rng.normal(0, 1, n),
                          "c": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
                          "score": rng.uniform(size=n)})
    if shifted:  # BR moves: its feature, its category mix and its scores
        br = (frame.country == "BR").to_numpy()
        frame.loc[br, "x"] += 1.0
        frame.loc[br, "c"] = rng.choice(["a", "d"], int(br.sum()))
        frame.loc[br, "score"] = rng.uniform(size=int(br.sum())) ** 0.5
        frame.loc[rng.uniform(size=n) < 0.05, "x"] = np.nan
    frame["label"] = (rng.uniform(size=n) < frame.score).astype(int)
    frame["labelled"] = rng.uniform(size=n) < 0.5  # the rows whose labels join
    if shifted:  # BR's labels no longer follow the scores
        br = (frame.country == "BR").to_numpy()
        frame.loc[br, "label"] = rng.integers(0, 2, int(br.sum()))
    return frame


REF_FRAME = _frame(8000, np.random.default_rng(1))
WIN_FRAME = _frame(6000, np.random.default_rng(2), shifted=True)
REFERENCE = Reference.from_data(REF_FRAME[["x", "c"]], predictions=REF_FRAME.score.to_numpy(),
                                labels=REF_FRAME.label.to_numpy(),
                                segments={"country": REF_FRAME.country}, segment_top_k=TOP_K)


def _window(frame: pd.DataFrame, chunk: int = 1000, reference: Reference = REFERENCE
            ) -> WindowState:
    window = reference.new_window()
    for start in range(0, len(frame), chunk):
        part = frame.iloc[start:start + chunk]
        window.update(part[["x", "c"]], predictions=part.score.to_numpy(),
                      segments={"country": part.country.to_numpy()})
        labelled = part[part.labelled]
        window.add_labels(labelled.label.to_numpy(), labelled.score.to_numpy(),
                          segments={"country": labelled.country.to_numpy()})
    return window


def _mask(frame: pd.DataFrame, value: str) -> np.ndarray:
    country = frame.country
    if value == MISSING:
        return country.isna().to_numpy()
    if value == OTHER:
        return (country.notna() & ~country.isin(["BR", "US", "FR"])).to_numpy()
    return (country == value).to_numpy()


def _numeric_bins(reference_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Counts over below-minimum, the ten reference deciles, above-maximum, then missing."""
    finite = reference_values[np.isfinite(reference_values)]
    cuts = np.concatenate([[finite.min()], np.quantile(finite, np.linspace(0.1, 0.9, 9))])
    x = values[np.isfinite(values)]
    index = np.where(x > finite.max(), 11, np.searchsorted(cuts, x, side="right"))
    counts = np.bincount(index, minlength=12)
    return np.append(counts, values.size - x.size)


def _categorical_bins(values: pd.Series) -> np.ndarray:
    counts = values.value_counts()
    return np.array([counts.get(v, 0) for v in ["a", "b", "c", "d"]] + [0, values.isna().sum()])


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    def smooth(x: np.ndarray) -> np.ndarray:
        x = x / x.sum()
        x = np.where(x == 0, 1e-4, x)
        return x / x.sum()
    ps, qs = smooth(p.astype(float)), smooth(q.astype(float))
    return float(np.sum((ps - qs) * np.log(ps / qs)))


def _check_drift(metrics: dict[str, float], current: np.ndarray, reference: np.ndarray) -> None:
    """Drift metrics of a column against scipy on independently binned counts (missing last)."""
    assert metrics["count"] == current.sum()
    assert metrics["missing_rate"] == pytest.approx(current[-1] / current.sum(), abs=1e-15)
    cur, ref = current[:-1], reference[:-1]
    assert metrics["js_distance"] == pytest.approx(jensenshannon(cur, ref, base=2), abs=1e-12)
    assert metrics["psi"] == pytest.approx(_psi(cur, ref), rel=1e-9)
    table = np.vstack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    assert metrics["chi2_pvalue"] == pytest.approx(chi2_contingency(table)[1], rel=1e-9,
                                                   abs=1e-300)


def _sklearn_performance(frame: pd.DataFrame) -> dict[str, float]:
    y, s = frame.label.to_numpy(), frame.score.to_numpy()
    pred = (s >= 0.5).astype(int)
    out = {"accuracy": accuracy_score(y, pred), "precision": precision_score(y, pred),
           "recall": recall_score(y, pred), "f1": f1_score(y, pred)}
    # the window keeps scores in 100 bins: the same ROC AUC as sklearn's on the binned scores
    out["roc_auc"] = roc_auc_score(y, np.minimum(np.floor(s * 100), 99))
    return out


def test_every_segment_matches_scipy_and_sklearn_on_its_own_rows() -> None:
    results = compare_segments(REFERENCE, _window(WIN_FRAME))
    assert [r.label for r in results] == [
        "country=BR", "country=US", "country=FR", "country=@other", "country=@missing"]
    labelled = WIN_FRAME[WIN_FRAME.labelled]
    whole = _sklearn_performance(labelled)
    for result in results:
        ref_rows = REF_FRAME[_mask(REF_FRAME, result.value)]
        win_rows = WIN_FRAME[_mask(WIN_FRAME, result.value)]
        assert result.rows == len(win_rows) and result.share == len(win_rows) / len(WIN_FRAME)
        _check_drift(result.prediction, _numeric_bins(REF_FRAME.score.to_numpy(),
                                                      win_rows.score.to_numpy()),
                     _numeric_bins(REF_FRAME.score.to_numpy(), ref_rows.score.to_numpy()))
        _check_drift(result.features["x"], _numeric_bins(REF_FRAME.x.to_numpy(),
                                                         win_rows.x.to_numpy()),
                     _numeric_bins(REF_FRAME.x.to_numpy(), ref_rows.x.to_numpy()))
        _check_drift(result.features["c"], _categorical_bins(win_rows.c),
                     _categorical_bins(ref_rows.c))
        expected = _sklearn_performance(labelled[_mask(labelled, result.value)])
        assert result.labelled == int(_mask(labelled, result.value).sum())
        for metric, value in expected.items():
            assert result.performance[metric] == pytest.approx(value, abs=1e-12), metric
            assert result.performance[f"{metric}_gap"] == pytest.approx(
                value - whole[metric], abs=1e-12), metric


def test_the_segment_that_moved_ranks_first_by_drift_and_by_performance_gap() -> None:
    results = compare_segments(REFERENCE, _window(WIN_FRAME))
    assert rank_segments(results)[0].label == "country=BR"
    assert rank_segments(results, by="performance")[0].label == "country=BR"
    assert rank_segments(results, by="performance", metric="roc_auc")[0].label == "country=BR"
    assert rank_segments(results, min_rows=10_000) == []
    with pytest.raises(ValueError, match="by must be"):
        rank_segments(results, by="size")  # type: ignore[arg-type]


def test_segment_rows_carry_the_label_and_sample_sizes() -> None:
    result = compare_segments(REFERENCE, _window(WIN_FRAME))[0]
    rows = list(result.metric_rows())
    assert {r.segment for r in rows} == {"country=BR"}
    by_key = {(r.feature, r.metric): r for r in rows}
    assert by_key[(None, "count")].value == result.rows
    assert by_key[(None, "accuracy")].sample_size == result.labelled
    assert by_key[("@prediction", "psi")].sample_size == result.rows  # no missing scores
    assert ("@prediction", "n") not in by_key
    assert by_key[("x", "psi")].sample_size == result.features["x"]["n"] < result.rows
    assert ("x", "hellinger") not in by_key and ("x", "hellinger") in {
        (r.feature, r.metric) for r in result.metric_rows(["hellinger"])}


def test_regression_segments_match_sklearn() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    ref_seg = rng.choice(["a", "b"], n)
    y = rng.normal(10, 2, n)
    reference = Reference.from_data({"x": y + rng.normal(0, 1, n)}, predictions=y + 0.1,
                                    labels=y, task="regression", segments={"os": ref_seg})
    window = reference.new_window()
    seg = rng.choice(["a", "b", "c"], n)
    truth = rng.normal(10, 2, n)
    pred = truth + np.where(seg == "a", rng.normal(0, 3, n), rng.normal(0, 0.5, n))
    window.update({"x": pred}, predictions=pred, segments={"os": seg})
    window.add_labels(truth, pred, segments={"os": seg})
    results = {r.value: r for r in compare_segments(reference, window)}
    assert set(results) == {"a", "b", OTHER}  # "c" was not in the reference
    for value, result in results.items():
        mask = seg == value if value != OTHER else seg == "c"
        mae = mean_absolute_error(truth[mask], pred[mask])
        assert result.performance["mae"] == pytest.approx(mae, rel=1e-12)
        assert result.performance["rmse"] == pytest.approx(
            math.sqrt(mean_squared_error(truth[mask], pred[mask])), rel=1e-12)
        assert result.performance["mae_gap"] == pytest.approx(
            mae - mean_absolute_error(truth, pred), rel=1e-9)
    assert rank_segments(list(results.values()), by="performance")[0].value == "a"


def test_vocabulary_is_the_top_k_normalised_values_ties_broken_by_value() -> None:
    column = [3, 3.0, "3", "x", "x", "y", "w", "w", True, None]
    reference = Reference.from_data({"f": np.arange(10.0)}, segments={"k": column},
                                    segment_top_k=3)
    key = reference.segments.key("k")
    assert key.values == ["3", "w", "x"]  # 3 x "3", then "w" and "x" (2 each) by value
    assert key.labels() == ["k=3", "k=w", "k=x", "k=@other", "k=@missing"]
    slots = key.slots([3.0, "x", "y", "never", None, float("nan"), True], 7)
    assert slots.tolist() == [0, 2, 3, 3, 4, 4, 3]
    assert key.reference is not None and key.reference[:, 0].tolist() == [3, 2, 2, 2, 1]
    with pytest.raises(ValueError, match="top_k"):
        Reference.from_data({"f": [1.0]}, segments={"k": ["a"]}, segment_top_k=0)


def test_the_segments_of_a_key_add_up_to_the_whole_reference() -> None:
    key = REFERENCE.segments.key("country")
    assert key.reference is not None
    whole = REFERENCE.segments.layout.whole_reference()
    np.testing.assert_array_equal(key.reference[:, 1:].sum(axis=0), whole)
    assert key.reference[:, 0].sum() == len(REF_FRAME)


def test_a_state_stays_bounded_by_keys_times_k_however_many_values_arrive() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    reference = Reference.from_data({"x": rng.normal(0, 1, n)}, segments={
        "country": rng.integers(0, 500, n), "client": rng.integers(0, 300, n)})
    assert [k.size for k in reference.segments.keys] == [22, 22]  # 20 values, other, missing
    window = reference.new_window()
    window.update({"x": rng.normal(0, 1, 50_000)}, segments={
        "country": rng.integers(0, 100_000, 50_000), "client": rng.integers(0, 100_000, 50_000)})
    assert {k: c.shape for k, c in window.segments.counts.items()} == {
        "country": (22, 14), "client": (22, 14)}  # rows + 12 bins + missing
    assert sum(r.rows for r in compare_segments(reference, window)) == 2 * 50_000


@pytest.mark.parametrize("classes", [2, 10])
def test_serialised_size_of_25_features_2_keys_20_values_stays_well_under_100_kb(
        classes: int) -> None:
    rng = np.random.default_rng(4)

    def features(n: int) -> dict[str, Any]:
        out: dict[str, Any] = {f"n{i}": rng.normal(i, 1, n) for i in range(20)}
        out.update({f"c{i}": rng.choice([f"v{j}" for j in range(60)], n) for i in range(5)})
        return out

    def outputs(n: int) -> tuple[Any, np.ndarray]:
        if classes == 2:
            scores = rng.uniform(size=n)
            return scores, (rng.uniform(size=n) < scores).astype(int)
        return list(rng.dirichlet(np.ones(classes), n)), rng.integers(0, classes, n)

    n = 20_000
    scores, labels = outputs(n)
    keys = {"country": rng.integers(0, 40, n), "client": rng.integers(0, 30, n)}
    plain = Reference.from_data(features(n), predictions=scores, labels=labels)
    reference = Reference.from_data(features(n), predictions=scores, labels=labels,
                                    segments=keys)
    rows = 100_000
    window, plain_window = reference.new_window(), plain.new_window()
    batch, (s, y) = features(rows), outputs(rows)
    seg = {"country": rng.integers(0, 40, rows), "client": rng.integers(0, 30, rows)}
    window.update(batch, predictions=s, segments=seg)
    window.add_labels(y, s, segments=seg)
    plain_window.update(batch, predictions=s)
    plain_window.add_labels(y, s)
    extra = len(window.to_bytes()) - len(plain_window.to_bytes())
    assert extra < {2: 35_000, 10: 70_000}[classes], extra  # measured 24 KB and 58 KB
    assert len(window.to_bytes()) < 100_000


def _segment_bytes(window: WindowState) -> bytes:
    _, body = _codec.unpack(window.to_bytes(), b"ISWN", (2,))
    return msgspec.msgpack.encode(body["segments"])


@pytest.mark.parametrize("seed", range(6))
def test_any_split_merges_to_the_same_segment_state_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = WIN_FRAME.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    whole = _window(frame, chunk=len(frame))
    parts = rng.integers(1, 6)
    cuts = np.sort(rng.choice(np.arange(1, len(frame)), parts - 1, replace=False))
    merged = REFERENCE.new_window()
    for start, stop in zip([0, *cuts.tolist()], [*cuts.tolist(), len(frame)], strict=True):
        piece = frame.iloc[start:stop]
        blob = _window(piece, chunk=int(rng.integers(50, 800))).to_bytes()
        merged.merge(WindowState.from_bytes(blob))  # as the evaluator: unbound states
    assert _segment_bytes(merged) == _segment_bytes(whole)
    again = WindowState.from_bytes(merged.to_bytes(), REFERENCE)
    assert _segment_bytes(again) == _segment_bytes(whole)
    assert [r.performance for r in compare_segments(REFERENCE, again)] == [
        r.performance for r in compare_segments(REFERENCE, whole)]


def test_bytes_written_before_segments_existed_load_and_reserialise_unchanged() -> None:
    ref_blob = (DATA / "pre_segments_reference.bin").read_bytes()
    win_blob = (DATA / "pre_segments_window.bin").read_bytes()
    reference = Reference.from_bytes(ref_blob)
    assert reference.segments is None and reference.to_bytes() == ref_blob
    window = reference.window_from_bytes(win_blob)  # same fingerprint as before
    assert window.segments is None and window.to_bytes() == win_blob
    window.update({"x": [0.5], "city": ["a"]}, segments={"country": ["BR"]})  # ignored
    assert "segments" not in _codec.unpack(window.to_bytes(), b"ISWN", (2,))[1]
    assert compare_segments(reference, window) == []


def test_a_segmented_reference_round_trips_and_its_windows_attach() -> None:
    restored = Reference.from_bytes(REFERENCE.to_bytes())
    assert restored.fingerprint == REFERENCE.fingerprint
    assert restored.segments is not None
    for a, b in zip(restored.segments.keys, REFERENCE.segments.keys, strict=True):
        assert a.values == b.values and np.array_equal(a.reference, b.reference)
    window = restored.window_from_bytes(_window(WIN_FRAME).to_bytes())
    assert [r.features for r in compare_segments(restored, window)] == [
        r.features for r in compare_segments(REFERENCE, _window(WIN_FRAME))]
    plain = Reference.from_data(REF_FRAME[["x", "c"]], predictions=REF_FRAME.score.to_numpy(),
                                labels=REF_FRAME.label.to_numpy())
    assert plain.fingerprint != REFERENCE.fingerprint
    with pytest.raises(ValueError, match="different reference"):
        compare_segments(plain, window)


def test_an_explicit_vocabulary_reads_tags_from_events_and_compares_with_the_whole_reference(
        ) -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(0, 1, 4000)
    reference = Reference.from_data({"x": x}, segment_values={"client": ["android", "ios", 7]})
    key = reference.segments.key("client")
    assert key.values == ["android", "ios", "7"] and key.reference is None
    live = rng.normal(0.5, 1, 300)
    clients = ["android", "ios", None]
    events = [{"features": {"x": float(v)}, "tags": {"client": clients[i % 3]}}
              for i, v in enumerate(live)]
    events[2]["features"]["client"] = "web"  # no tag: read from the features
    window = reference.new_window()
    window.update(events)
    results = {r.value: r for r in compare_segments(reference, window)}
    assert {v: r.rows for v, r in results.items()} == {"android": 100, "ios": 100, OTHER: 1,
                                                       MISSING: 99}
    android = live[0::3]
    _check_drift(results["android"].features["x"], _numeric_bins(x, android),
                 _numeric_bins(x, x))
    assert segment_columns(events[:3], ["client"]) == {"client": ["android", "ios", "web"]}


def test_segments_and_values_cannot_name_the_same_key() -> None:
    with pytest.raises(ValueError, match="both"):
        Reference.from_data({"x": [1.0, 2.0]}, segments={"k": ["a", "b"]},
                            segment_values={"k": ["a"]})
    with pytest.raises(ValueError, match="2 rows"):
        Reference.from_data({"x": [1.0, 2.0]}, segments={"k": ["a"]})


def test_a_segment_result_label() -> None:
    assert SegmentResult("country", "BR", 1, 1.0).label == "country=BR"


def test_segment_drift_rows_match_scipy_including_one_degree_of_freedom() -> None:
    rng = np.random.default_rng(11)
    current = rng.integers(0, 6, (200, 5)) * (rng.uniform(size=(200, 5)) < 0.6)
    reference = rng.integers(0, 6, (200, 5)) * (rng.uniform(size=(200, 5)) < 0.6)
    rows = segment_drift(current, reference)
    tested = 0
    for cur, ref, row in zip(current, reference, rows, strict=True):
        cur_values, ref_values = cur[:-1], ref[:-1]
        if not cur_values.sum() or not ref_values.sum():
            assert "psi" not in row and row["n"] == cur_values.sum()
            continue
        table = np.vstack([ref_values, cur_values])
        table = table[:, table.sum(axis=0) > 0]
        expected = chi2_contingency(table)[1] if table.shape[1] > 1 else 1.0
        tested += table.shape[1] == 2
        assert row["chi2_pvalue"] == pytest.approx(expected, rel=1e-9, abs=1e-300)
        assert row["js_distance"] == pytest.approx(
            jensenshannon(cur_values, ref_values, base=2), abs=1e-12)
        assert row["psi"] == pytest.approx(_psi(cur_values, ref_values), rel=1e-9, abs=1e-15)
    assert tested > 5  # rows with one degree of freedom (Yates' correction) were checked


def test_a_segment_column_of_the_wrong_length_adds_nothing() -> None:
    window = REFERENCE.new_window()
    with pytest.raises(ValueError, match="segment key 'country' has 1 values"):
        window.update({"x": [0.1, 0.2], "c": ["a", "b"]}, predictions=[0.3, 0.4],
                      segments={"country": ["BR"]})
    with pytest.raises(ValueError, match="segment key 'country' has 1 values"):
        window.add_labels([1, 0], [0.3, 0.4], segments={"country": ["BR"]})
    assert window.rows == 0 and window.performance is None
    assert window.to_bytes() == REFERENCE.new_window().to_bytes()


def test_wire_events_give_their_tags_as_segment_values() -> None:
    from datetime import UTC, datetime

    from infersight.sdk.wire.columnar import PredictionBlock

    block = PredictionBlock(model="m", version="1", prediction_id=["a", "b", "c"],
                            ts=[datetime(2024, 1, 1, tzinfo=UTC)] * 3,
                            features={"x": [0.1, 0.2, None], "c": ["a", "b", "c"]},
                            prediction=[0.2, 0.9, 0.5], tags={"country": ["BR", None, "DE"]})
    window = REFERENCE.new_window()
    window.update(block.rows())
    assert {r.label: r.rows for r in compare_segments(REFERENCE, window)} == {
        "country=BR": 1, "country=@other": 1, "country=@missing": 1}
