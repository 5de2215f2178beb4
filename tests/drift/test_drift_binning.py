"""The fast bin lookup gives exactly numpy.searchsorted's bins on any data."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from infersight.drift.binning import BinLookup

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, deadline=None)
@given(reference=st.lists(finite, min_size=1, max_size=400), values=st.lists(finite, max_size=300),
       seed=st.integers(0, 2**32 - 1))
def test_lookup_equals_searchsorted_on_arbitrary_floats(reference: list[float],
                                                        values: list[float], seed: int) -> None:
    edges = np.unique(np.asarray(reference))
    rng = np.random.default_rng(seed)
    u = rng.uniform(-0.1, 1.1, 200)
    with np.errstate(over="ignore"):
        inside = edges[0] * (1 - u) + edges[-1] * u
        x = np.concatenate([np.asarray(values, dtype=np.float64), edges,
                            np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf), inside])
    x = x[np.isfinite(x)]
    got = BinLookup(edges).assign(x)
    np.testing.assert_array_equal(got, np.searchsorted(edges, x, side="right"))


def test_lookup_on_typical_reference_quantiles_uses_the_grid_and_stays_exact() -> None:
    rng = np.random.default_rng(0)
    for ref in (rng.normal(size=50_000), rng.lognormal(0, 1, 50_000), rng.standard_t(2, 50_000),
                rng.integers(0, 30, 50_000).astype(float)):
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, 501)))
        lookup = BinLookup(edges)
        assert lookup._grid is not None
        x = np.concatenate([rng.permutation(ref)[:20_000] * 1.3 + 0.2, edges, [-1e300, 1e300]])
        np.testing.assert_array_equal(lookup.assign(x), np.searchsorted(edges, x, side="right"))
