"""Train/serve skew by key against a pandas merge on the id: matched pairs, differing share,
mean absolute difference and the worst examples; any split merges to the same state."""

from __future__ import annotations

import msgspec
import numpy as np
import pandas as pd
import pytest
from infersight.drift.skew import ATOL, RTOL, WORST_KEPT, SkewState


def _served_and_offline(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Served rows, and offline rows for most of them (plus ids never served): a few values
    recomputed differently, some rounded as float32, some missing on one side."""
    rng = np.random.default_rng(seed)
    n = 600
    served = pd.DataFrame({"id": [f"r{i}" for i in range(n)],
                           "amount": rng.lognormal(3, 1, n),
                           "country": rng.choice(["FR", "BR", "US"], n)})
    offline = served.sample(frac=0.8, random_state=seed).copy()
    offline["amount"] = offline["amount"].astype(np.float32).astype(np.float64)  # within rtol
    changed = rng.random(len(offline)) < 0.05
    offline.loc[changed, "amount"] *= 1.1
    offline.loc[rng.random(len(offline)) < 0.02, "amount"] = np.nan
    offline.loc[rng.random(len(offline)) < 0.03, "country"] = "DE"
    extra = pd.DataFrame({"id": ["never-served"], "amount": [1.0], "country": ["FR"]})
    return served, pd.concat([offline, extra])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skew_rates_equal_a_pandas_merge_on_the_id(seed: int) -> None:
    served, offline = _served_and_offline(seed)
    pairs = served.merge(offline, on="id", suffixes=("_served", "_offline"))
    a, b = pairs["amount_served"], pairs["amount_offline"]
    both = a.notna() & b.notna()
    close = (a - b).abs() <= ATOL + RTOL * b.abs()
    numeric_differs = (both & ~close) | (a.isna() != b.isna())
    country_differs = pairs["country_served"] != pairs["country_offline"]

    amount, country = SkewState(), SkewState()
    ids = pairs["id"].tolist()
    amount.update(ids, pairs["amount_served"].tolist(), pairs["amount_offline"].tolist(),
                  "numeric")
    country.update(ids, pairs["country_served"].tolist(), pairs["country_offline"].tolist(),
                   "categorical")

    assert amount.metrics() == pytest.approx({
        "skew_matched": len(pairs), "skew_rate": numeric_differs.mean(),
        "skew_mean_abs_diff": (a - b).abs()[both].mean()}, rel=1e-12)
    assert country.metrics() == pytest.approx({"skew_matched": len(pairs),
                                               "skew_rate": country_differs.mean()})
    worst = pairs.assign(diff=np.where(both, (a - b).abs(), np.inf))[numeric_differs]
    worst = worst.sort_values(["diff", "id"], ascending=[False, True]).head(WORST_KEPT)
    assert [w.prediction_id for w in amount.worst] == worst["id"].tolist()


def test_any_split_merges_to_the_whole_and_survives_bytes() -> None:
    served, offline = _served_and_offline(3)
    pairs = served.merge(offline, on="id", suffixes=("_s", "_o"))
    ids, a, b = pairs["id"].tolist(), pairs["amount_s"].tolist(), pairs["amount_o"].tolist()
    whole = SkewState()
    whole.update(ids, a, b, "numeric")
    merged = SkewState()
    for start, stop in ((300, len(ids)), (0, 1), (1, 300)):  # any order
        part = SkewState()
        part.update(ids[start:stop], a[start:stop], b[start:stop], "numeric")
        merged.merge(SkewState.from_dict(msgspec.msgpack.decode(
            msgspec.msgpack.encode(part.to_dict()))))
    assert merged.to_dict() == whole.to_dict()


def test_categories_compare_by_normalised_key_and_missing_sides_differ() -> None:
    state = SkewState()
    state.update(["a", "b", "c", "d"], [1, "x", None, None], ["1", "y", None, "z"],
                 "categorical")
    assert state.metrics() == {"skew_matched": 4.0, "skew_rate": 0.5}
    assert sorted(w.prediction_id for w in state.worst) == ["b", "d"]
    with pytest.raises(ValueError, match="same length"):
        state.update(["a"], [1, 2], [1], "numeric")


def test_a_window_state_keeps_skew_per_feature_and_any_split_merges_bit_for_bit() -> None:
    from infersight.drift import Reference

    served, offline = _served_and_offline(3)
    ref = Reference.from_data({"amount": served["amount"].to_numpy(),
                               "country": served["country"].tolist(),
                               "vec": [[0.0, 1.0]] * len(served)})
    pairs = served.merge(offline, on="id", suffixes=("_s", "_o"))
    ids = pairs["id"].tolist()
    served_rows = [{"amount": a, "country": c, "vec": [0.0, 1.0]}
                   for a, c in zip(pairs["amount_s"], pairs["country_s"], strict=True)]
    offline_rows = [{"amount": None if np.isnan(a) else a, "vec": [1.0, 0.0],
                     **({} if i % 10 == 0 else {"country": c})}  # some rows lack a feature
                    for i, (a, c) in enumerate(zip(pairs["amount_o"], pairs["country_o"],
                                                   strict=True))]
    whole = ref.new_window()
    whole.add_skew(ids, served_rows, offline_rows)
    assert set(whole.skew) == {"amount", "country"}  # embeddings are not compared
    assert whole.skew["country"].matched == len(ids) - len(range(0, len(ids), 10))
    rng = np.random.default_rng(4)
    parts = [ref.new_window() for _ in range(3)]
    for part, index in zip(parts, np.array_split(rng.permutation(len(ids)), 3), strict=True):
        part.add_skew([ids[i] for i in index], [served_rows[i] for i in index],
                      [offline_rows[i] for i in index])
    merged = ref.new_window()
    for part in (parts[2], parts[0], parts[1]):
        merged.merge(ref.window_from_bytes(part.to_bytes()))
    for name in whole.skew:
        assert merged.skew[name].to_dict() == whole.skew[name].to_dict()
    restored = ref.window_from_bytes(merged.to_bytes())
    assert {n: s.metrics() for n, s in restored.skew.items()} == {
        n: s.metrics() for n, s in whole.skew.items()}
    assert ref.window_from_bytes(ref.new_window().to_bytes()).skew == {}
