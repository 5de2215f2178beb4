"""HealthState: exact merge for any split and order, the error-type bound, serialisation, and
every metric against numpy."""

from __future__ import annotations

import random

import numpy as np
import pytest
from infersight.drift._codec import FormatError
from infersight.drift.health import MAX_ERROR_TYPES, OTHER_ERRORS, HealthState
from infersight.drift.loghist import RELATIVE_ERROR
from infersight.drift.pricing import Price, PriceHistory


def _calls(n: int, seed: int, error_types: int = 4) -> list[dict[str, object]]:
    rng = random.Random(seed)
    calls: list[dict[str, object]] = []
    for _ in range(n):
        call: dict[str, object] = {"latency_ms": rng.lognormvariate(5, 0.7)}
        if rng.random() < 0.2:
            call["error"] = f"Error{rng.randrange(error_types)}"
        elif rng.random() < 0.8:
            call["usage"] = {"input_tokens": rng.randrange(2000),
                             "output_tokens": rng.randrange(1, 500),
                             "cached_input_tokens": rng.randrange(100)}
            if rng.random() < 0.5:
                call["ttft_ms"] = rng.uniform(1, 100)
        if rng.random() < 0.05:
            call["latency_ms"] = None
        calls.append(call)
    return calls


def _state(calls: list[dict[str, object]], costs: list[float | None] | None = None) -> HealthState:
    state = HealthState()
    state.update(calls, costs)
    return state


@pytest.mark.parametrize("seed", range(5))
def test_any_split_and_order_merges_to_the_same_state_bit_for_bit(seed: int) -> None:
    calls = _calls(1500, seed, error_types=80)
    costs: list[float | None] = [None if i % 7 == 0 else random.Random(i).uniform(0, 0.01)
                                 for i in range(len(calls))]
    whole = _state(calls, costs)
    rng = random.Random(seed)
    order = list(range(len(calls)))
    rng.shuffle(order)
    cuts = sorted(rng.sample(range(1, len(calls)), 6))
    parts = [_state([calls[i] for i in chunk], [costs[i] for i in chunk])
             for chunk in np.split(np.array(order), cuts)]
    rng.shuffle(parts)
    merged = HealthState()
    for part in parts:
        merged.merge(HealthState.from_bytes(part.to_bytes()))
    assert merged == whole
    assert merged.to_bytes() == whole.to_bytes()
    assert merged.metrics(60.0) == whole.metrics(60.0)


def test_error_types_beyond_the_bound_are_counted_as_other() -> None:
    calls = [{"error": f"E{i}"} for i in range(MAX_ERROR_TYPES + 20) for _ in range(2)]
    state = _state(calls)
    assert len(state.error_types) == MAX_ERROR_TYPES
    assert state.errors_other == 40 and state.errors == len(calls)
    rows = {(f, m): v for f, m, v, _n in state.metrics(1.0)}
    assert rows[(OTHER_ERRORS, "error_count")] == 40.0


def test_metrics_match_numpy() -> None:
    calls = _calls(3000, 9)
    prices = PriceHistory([(0.0, Price(input_per_million=3.0, output_per_million=15.0,
                                       per_request=0.001))])
    price = prices.at(1.0)
    assert price is not None
    costs: list[float | None] = [price.call_cost(c.get("usage"), c.get("latency_ms"))  # type: ignore[arg-type]
                                 for c in calls]
    rows = {(f, m): (v, n) for f, m, v, n in _state(calls, costs).metrics(300.0)}
    latency = np.array([c["latency_ms"] for c in calls if c["latency_ms"] is not None])
    errors = [c for c in calls if "error" in c]
    used = [c["usage"] for c in calls if "usage" in c]
    assert rows[(None, "request_count")] == (3000.0, 3000)
    assert rows[(None, "request_rate")] == (10.0, 3000)
    assert rows[(None, "error_rate")] == (len(errors) / 3000, 3000)
    for q in (50, 95, 99):
        got, n = rows[(None, f"latency_p{q}_ms")]
        truth = np.quantile(latency, q / 100, method="inverted_cdf")
        assert n == latency.size and abs(got - truth) <= RELATIVE_ERROR * truth
    assert rows[(None, "input_tokens")] == (float(sum(u["input_tokens"] for u in used)), len(used))  # type: ignore[index]
    expected_cost = sum(c for c in costs if c is not None)
    assert abs(rows[(None, "cost")][0] - expected_cost) < 1e-9


def test_corrupt_bytes_are_refused() -> None:
    with pytest.raises(FormatError):
        HealthState.from_bytes(b"ISHL\x01garbage")
