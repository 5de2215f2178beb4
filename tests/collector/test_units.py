"""Small parts of the worker on their own: window arithmetic, the local-bus consumer, the
self-metrics endpoint, the bounded state cache, and the collector's doctests."""

from __future__ import annotations

import doctest
import importlib
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from infersight.collector.worker.local_consumer import LocalConsumerBus
from infersight.collector.worker.self_metrics import WorkerMetrics
from infersight.collector.worker.state_cache import CachedState, StateCache
from infersight.drift.windowing import WindowSpec
from infersight.sdk.local_bus import LocalBus
from prometheus_client import CollectorRegistry

from tests.support.tansu import free_port

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(
    ts=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=st.just(UTC)),
    length_s=st.sampled_from([1, 30, 60, 300, 3600, 86400, 7 * 86400, 90.5]),
)
def test_windows_are_epoch_aligned_and_hold_their_events(ts: datetime, length_s: float) -> None:
    spec = WindowSpec(length_s)
    start = spec.start_of(ts)
    micros = (ts - EPOCH) // timedelta(microseconds=1)
    length_us = round(length_s * 1_000_000)
    assert (start - EPOCH) // timedelta(microseconds=1) == micros - micros % length_us
    assert start <= ts < spec.end_of(start)


def test_window_closes_when_the_watermark_passes_its_end() -> None:
    spec = WindowSpec(60)
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    latest_event = start + timedelta(seconds=65.9)  # watermark = latest - 6 s lateness
    assert not spec.is_closed(start, spec.watermark(latest_event))
    assert spec.is_closed(start, spec.watermark(latest_event + timedelta(seconds=0.1)))
    with pytest.raises(ValueError, match="positive"):
        WindowSpec(0)
    with pytest.raises(ValueError, match="aware"):
        spec.start_of(datetime(2026, 1, 1))


def test_local_consumer_assigns_seeks_pauses_like_a_partition() -> None:
    bus = LocalBus()
    for i in range(5):
        bus.publish("t", b"k", f"m{i}".encode())
    consumer = LocalConsumerBus(bus, ["t"])
    change = consumer.take_assignment_changes()
    assert change.assigned == {("t", 0)} and not consumer.take_assignment_changes()
    assert consumer.poll(0.0, 10) == []  # paused until sought
    consumer.seek(("t", 0), 3)
    consumer.resume([("t", 0)])
    assert [(r.offset, r.value) for r in consumer.poll(0.0, 10)] == [(3, b"m3"), (4, b"m4")]
    consumer.seek(("t", 0), 1)
    assert [r.offset for r in consumer.poll(0.0, 2)] == [1, 2]
    assert consumer.end_offsets([("t", 0)]) == {("t", 0): 5}


def test_self_metrics_are_served_with_their_names() -> None:
    metrics = WorkerMetrics(CollectorRegistry())
    metrics.events_consumed.labels(topic="infersight.events").inc(7)
    metrics.events_deadlettered.labels(reason="invalid_json").inc()
    metrics.consumer_lag.labels(topic="infersight.events", partition="0").set(3)
    metrics.batch_seconds.observe(0.01)
    metrics.db_transaction_seconds.observe(0.005)
    metrics.window_evaluations.inc()
    port = free_port()
    server, _thread = metrics.serve(port, "127.0.0.1")
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        server.shutdown()
    for line in (
        'infersight_events_consumed_total{topic="infersight.events"} 7.0',
        'infersight_events_deadlettered_total{reason="invalid_json"} 1.0',
        'infersight_consumer_lag{partition="0",topic="infersight.events"} 3.0',
        "infersight_window_evaluations_total 1.0",
        "infersight_batch_seconds_count 1.0",
        "infersight_db_transaction_seconds_count 1.0",
    ):
        assert line in text


def test_state_cache_stays_bounded_and_keeps_dirty_entries() -> None:
    cache = StateCache(max_entries=3)
    end = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(5):
        cache._entries[("m", "1", end + timedelta(minutes=i), "p/0")] = CachedState(
            None, end + timedelta(minutes=i + 1), 1, dirty=(i == 0))
    cache.evict({})
    kept = sorted(key[2] for key in cache._entries)
    assert len(kept) == 3 and kept[0] == end  # the dirty entry is never dropped
    cache.mark_clean()
    cache.evict({"m": end + timedelta(minutes=10)})  # every window closed
    assert len(cache) == 0


@pytest.mark.parametrize("module", [
    "infersight.collector.worker.bus", "infersight.drift.windowing",
    "infersight.collector.worker.self_metrics", "infersight.collector.worker.loop",
    "infersight.collector.worker.positions",
])
def test_collector_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
