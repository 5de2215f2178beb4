"""Inference health and cost through the real path: wire events with errors of several types,
latencies, token counts and time to first token, for a model WITHOUT a reference, on the real
broker (three partitions, duplicates included) → the real worker → Postgres. Every health
point is checked against numbers computed here with numpy: counts and sums exactly, costs to
the cent (at the price in force at each call's time, with a price change mid-window), and
quantiles within the LogHistogram's relative error of ``numpy.quantile(method="inverted_cdf")``.
Then the cost of the windows is recomputed at the price in force at each window's start, and
the recomputed cost survives a later evaluation.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from infersight.collector.worker.catalog import ModelCatalog
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.evaluation import evaluate_window, recompute_cost
from infersight.collector.worker.kafka_bus import KafkaConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.drift.loghist import RELATIVE_ERROR
from infersight.sdk import wire
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.held import held_summary
from infersight.storage.models import HealthState, MetricPoint
from infersight.storage.prices import add_price_revision
from infersight.storage.registry import get_reference
from sqlalchemy import Engine, func, select

from tests.collector.harness import (
    create_topics,
    evaluated_after_updates,
    produce,
    stored_offsets,
)
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MODEL, VERSION, GROUP = "llm", "1", "health"
WINDOW_S = 60
TS0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CALLS = 900
SPACING = timedelta(milliseconds=200)
"""900 calls over three one-minute windows."""
ERROR_TYPES = ("TimeoutError", "RateLimitError", "APIConnectionError")
PRICE_A = {"currency": "USD", "input_per_million": 3.0, "output_per_million": 15.0,
           "cached_input_per_million": 0.3, "per_request": 0.0005}
PRICE_B = {"currency": "USD", "input_per_million": 2.0, "output_per_million": 8.0,
           "per_second": 0.0001}
CHANGE = TS0 + timedelta(seconds=90)
"""PRICE_B is in force from here (the middle of the second window)."""


def _calls() -> list[dict[str, Any]]:
    rng = random.Random(16)
    calls = []
    for i in range(CALLS):
        call: dict[str, Any] = {
            "type": "prediction", "model": MODEL, "version": VERSION,
            "prediction_id": f"c{i}", "ts": TS0 + i * SPACING,
            "features": {"x": rng.gauss(0, 1)},
            "latency_ms": rng.lognormvariate(6.5, 0.6),
        }
        if rng.random() < 0.12:
            call["prediction"] = None
            call["error"] = rng.choice(ERROR_TYPES)
            if rng.random() < 0.2:
                call["latency_ms"] = None
        else:
            call["prediction"] = rng.random()
            usage = {"input_tokens": rng.randrange(50, 4000),
                     "output_tokens": rng.randrange(1, 800)}
            if rng.random() < 0.5:
                usage["cached_input_tokens"] = rng.randrange(0, usage["input_tokens"])
            if rng.random() < 0.3:
                usage["reasoning_tokens"] = rng.randrange(0, usage["output_tokens"])
            call["usage"] = usage
            if rng.random() < 0.6:
                call["ttft_ms"] = rng.uniform(50, 0.9 * call["latency_ms"])
        calls.append(call)
    return calls


def _messages(calls: list[dict[str, Any]]) -> list[tuple[int, bytes, bytes]]:
    """Batches of 40 calls over three partitions, and 60 calls sent a second time."""
    batches = [calls[i:i + 40] for i in range(0, len(calls), 40)]
    batches.append(random.Random(3).sample(calls, 60))
    return [(n % 3, MODEL.encode(), wire.encode_batch(batch)) for n, batch in enumerate(batches)]


def _price(call: dict[str, Any], pricing: dict[str, float]) -> float:
    """One call's cost, written out independently of the service's code."""
    usage = call.get("usage", {})
    tokens_in, cached = usage.get("input_tokens", 0), usage.get("cached_input_tokens", 0)
    if "cached_input_per_million" in pricing:
        input_cost = ((tokens_in - cached) * pricing["input_per_million"]
                      + cached * pricing["cached_input_per_million"])
    else:
        input_cost = tokens_in * pricing.get("input_per_million", 0.0)
    latency_s = (call["latency_ms"] or 0.0) / 1000.0
    return ((input_cost + usage.get("output_tokens", 0) * pricing.get("output_per_million", 0.0))
            / 1e6 + pricing.get("per_request", 0.0) + latency_s * pricing.get("per_second", 0.0))


def _expected(calls: list[dict[str, Any]], recomputed: bool) -> dict[tuple[datetime, str, str],
                                                                      tuple[float, int]]:
    """Every exact point per window: ``(window_start, feature, metric) → (value, n)``."""
    by_window: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        seconds = (call["ts"] - TS0).total_seconds()
        by_window[TS0 + timedelta(seconds=WINDOW_S * (seconds // WINDOW_S))].append(call)
    out = {}
    for start, window in by_window.items():
        n = len(window)
        errors = Counter(c["error"] for c in window if "error" in c)
        used = [c["usage"] for c in window if "usage" in c]
        out[(start, "", "request_count")] = (float(n), n)
        out[(start, "", "request_rate")] = (n / WINDOW_S, n)
        out[(start, "", "error_count")] = (float(sum(errors.values())), n)
        out[(start, "", "error_rate")] = (sum(errors.values()) / n, n)
        for name, count in errors.items():
            out[(start, name, "error_count")] = (float(count), n)
        for key in wire.USAGE_KEYS:
            out[(start, "", key)] = (float(sum(u.get(key, 0) for u in used)), len(used))
        if recomputed:
            pricing = PRICE_A if start < CHANGE else PRICE_B
            cost = float(np.sum([_price(c, pricing) for c in window]))
        else:
            cost = float(np.sum([_price(c, PRICE_A if c["ts"] < CHANGE else PRICE_B)
                                 for c in window]))
        out[(start, "", "cost")] = (cost, n)
        out[(start, "", "cost_per_request")] = (cost / n, n)
    return out


def _quantiles(calls: list[dict[str, Any]]) -> dict[tuple[datetime, str, str],
                                                   tuple[np.ndarray, float]]:
    """Samples and level of every quantile point: ``key → (values, q)``."""
    by_window: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        seconds = (call["ts"] - TS0).total_seconds()
        by_window[TS0 + timedelta(seconds=WINDOW_S * (seconds // WINDOW_S))].append(call)
    out = {}
    for start, window in by_window.items():
        timed = [c for c in window if c["latency_ms"] is not None]
        samples = {
            ("", "latency", "_ms"): [c["latency_ms"] for c in timed],
            ("@error", "latency", "_ms"): [c["latency_ms"] for c in timed if "error" in c],
            ("", "time_to_first_token", "_ms"): [c["ttft_ms"] for c in window if "ttft_ms" in c],
            ("", "tokens_per_request", ""): [c["usage"]["input_tokens"]
                                             + c["usage"]["output_tokens"]
                                             for c in window if "usage" in c],
            ("", "output_tokens_per_s", ""): [
                c["usage"]["output_tokens"]
                / ((c["latency_ms"] - c.get("ttft_ms", 0.0)) / 1000.0)
                for c in timed if "usage" in c],
        }
        levels = {"latency": (50, 95, 99), "time_to_first_token": (50, 95, 99),
                  "tokens_per_request": (50, 95), "output_tokens_per_s": (50,)}
        for (feature, name, unit), values in samples.items():
            for q in levels[name]:
                out[(start, feature, f"{name}_p{q}{unit}")] = (np.array(values), q / 100)
    return out


def _points(engine: Engine) -> dict[tuple[datetime, str, str], tuple[float | None, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(MetricPoint.window_start, MetricPoint.feature,
                                   MetricPoint.metric, MetricPoint.value,
                                   MetricPoint.sample_size)
                            .where(MetricPoint.model == MODEL))
        return {(s, f, m): (v, n) for s, f, m, v, n in rows}


def _done(engine: Engine) -> bool:
    """The held calls moved into drift windows (the version's first-window reference was
    built) and every health window has a request_count point newer than its latest update."""
    with session_factory(engine)() as session:
        if held_summary(session, MODEL, VERSION)[0] or get_reference(session, MODEL,
                                                                        VERSION) is None:
            return False
    with engine.connect() as conn:
        updated = dict(conn.execute(
            select(HealthState.window_start, func.max(HealthState.updated_at))
            .where(HealthState.model == MODEL).group_by(HealthState.window_start)).all())
        evaluated = dict(conn.execute(
            select(MetricPoint.window_start, MetricPoint.evaluated_at)
            .where(MetricPoint.model == MODEL, MetricPoint.metric == "request_count")).all())
    return bool(updated) and all(start in evaluated and evaluated[start] >= at
                                 for start, at in updated.items())


@pytest.fixture(scope="module")
def replayed(module_broker: TansuBroker) -> Iterator[tuple[str, list[dict[str, Any]], Worker]]:
    """The calls replayed through the worker; the database URL, the calls and the worker."""
    calls = _calls()
    create_topics(module_broker.bootstrap, {EVENTS_TOPIC: 3, LABELS_TOPIC: 1})
    with temporary_database("infersight_health") as url:
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine).begin() as session:
            add_price_revision(session, MODEL, TS0 - timedelta(days=1), PRICE_A)
            add_price_revision(session, MODEL, CHANGE, PRICE_B)
        sent = produce(module_broker.bootstrap, EVENTS_TOPIC, _messages(calls))
        expected = {(EVENTS_TOPIC, p): n for p, n in sent.items()}
        bus = KafkaConsumerBus(module_broker.bootstrap, GROUP, [EVENTS_TOPIC, LABELS_TOPIC],
                               session_timeout_ms=6000, heartbeat_interval_ms=1000)
        worker = Worker(bus, engine, WorkerConfig(window_s=WINDOW_S, eval_interval_s=0.5,
                                                  group=GROUP, poll_timeout_s=0.2))
        from tests.collector.inprocess import start

        running = start(worker)
        try:
            deadline = time.monotonic() + 90
            while not (stored_offsets(url, GROUP) == expected and _done(engine)
                       and evaluated_after_updates(url)):
                assert time.monotonic() < deadline, f"not done: {stored_offsets(url, GROUP)}"
                time.sleep(0.3)
        finally:
            running.stop()
        try:
            yield url, calls, worker
        finally:
            engine.dispose()


def _check_exact(points: dict[tuple[datetime, str, str], tuple[float | None, int]],
                 expected: dict[tuple[datetime, str, str], tuple[float, int]]) -> None:
    for key, (value, n) in expected.items():
        assert key in points, f"missing point {key}"
        got, size = points[key]
        assert size == n, (key, size, n)
        assert got is not None
        if key[2].startswith("cost"):
            assert abs(got - value) < 0.005 and math.isclose(got, value, rel_tol=1e-9), (key, got,
                                                                                       value)
        else:
            assert got == value, (key, got, value)


def test_health_points_of_a_model_without_reference_match_numpy(
    replayed: tuple[str, list[dict[str, Any]], Worker],
) -> None:
    url, calls, _worker = replayed
    engine = make_engine(url)
    try:
        points = _points(engine)
        with engine.connect() as conn:
            stored_calls = conn.execute(select(func.sum(HealthState.event_count))
                                        .where(HealthState.model == MODEL)).scalar_one()
    finally:
        engine.dispose()
    assert stored_calls == CALLS, "every call counted once (duplicates and the bootstrap)"
    drift_counts = [v for (_s, f, m), (v, _n) in points.items() if m == "count" and f == ""]
    assert sum(v or 0 for v in drift_counts) == CALLS, "the held calls entered drift windows"
    _check_exact(points, _expected(calls, recomputed=False))
    for key, (values, q) in _quantiles(calls).items():
        got, n = points[key]
        assert got is not None and n == values.size, key
        truth = float(np.quantile(values, q, method="inverted_cdf"))
        assert abs(got - truth) <= RELATIVE_ERROR * truth, (key, got, truth)
    windows = {start for start, _f, _m in points}
    assert len(windows) == 3


def test_recomputed_cost_uses_the_price_at_each_windows_start_and_survives_reevaluation(
    replayed: tuple[str, list[dict[str, Any]], Worker],
) -> None:
    url, calls, _worker = replayed
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            written = recompute_cost(session, MODEL, TS0, TS0 + timedelta(seconds=3 * WINDOW_S))
        assert {p.metric for p in written} >= {"cost", "cost_per_request"}
        expected = _expected(calls, recomputed=True)
        _check_exact(_points(engine), expected)
        with session_factory(engine).begin() as session:  # a later evaluation keeps it
            for minute in range(3):
                evaluate_window(session, ModelCatalog(WINDOW_S), MODEL, VERSION,
                                TS0 + timedelta(seconds=WINDOW_S * minute))
        _check_exact(_points(engine), expected)
    finally:
        engine.dispose()


def test_the_workers_counters_count_each_call_once(
    replayed: tuple[str, list[dict[str, Any]], Worker],
) -> None:
    _url, calls, worker = replayed
    registry = worker.metrics.registry
    labels = {"model": MODEL, "version": VERSION}
    assert registry.get_sample_value("infersight_model_requests_total", labels) == CALLS
    errors = Counter(c["error"] for c in calls if "error" in c)
    for name in ERROR_TYPES:
        assert registry.get_sample_value("infersight_model_errors_total",
                                         {**labels, "error_type": name}) == errors[name]
    for key in wire.USAGE_KEYS:
        total = sum(c.get("usage", {}).get(key, 0) for c in calls)
        token_type = key.removesuffix("_tokens")
        assert registry.get_sample_value("infersight_model_tokens_total",
                                         {**labels, "token_type": token_type}) == total
    cost = sum(_price(c, PRICE_A if c["ts"] < CHANGE else PRICE_B) for c in calls)
    got = registry.get_sample_value("infersight_model_cost_total", {**labels, "currency": "USD"})
    assert got is not None and abs(got - cost) < 0.005
