"""``infersight.events/v2`` through the real broker and worker: two models get the same events
(predictions with late ones, labels with duplicates and unknown ids, and the same bad events),
one produced as v1 and one as v2, interleaved on the same topics and partitions. Their metric
points are the same, and their dead letters carry the same reasons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.kafka_bus import KafkaConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC, SCHEMA_V2, encode_batch_v2
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.models import DeadLetter
from sqlalchemy import select

from tests.collector.conftest import install_references
from tests.collector.harness import (
    assert_same_metrics,
    create_topics,
    expected_offsets,
    metric_snapshot,
    produce,
    wait_until_done,
)
from tests.collector.inprocess import start
from tests.collector.streams import make_stream
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

GROUP, WINDOW_S = "wire-v2", 60
SIZES = {"windows": 3, "events_per_window": 200, "batch_size": 50}


def _spoil(message: bytes, number: int) -> bytes:
    """The v1 message with two bad events: a string latency and a timestamp without offset."""
    document = msgspec.json.decode(message)
    if number % 5 == 0 and len(document["events"]) > 3:
        document["events"][1]["latency_ms"] = "slow"
        document["events"][3]["ts"] = "2024-05-01T12:00:00"
    return msgspec.json.encode(document)


def _as_v2(message: bytes) -> bytes:
    return encode_batch_v2(msgspec.json.decode(message)["events"])


@pytest.fixture(scope="module")
def run(module_broker: TansuBroker) -> Iterator[dict[str, Any]]:
    old = make_stream(5, models=("fraud",), **SIZES)  # written as v1
    new = make_stream(5, models=("churn",), **SIZES)  # the same events, written as v2
    events = []
    for number, (a, b) in enumerate(zip(old.events, new.events, strict=True)):
        events += [(a[0], a[1], _spoil(a[2], number)), (b[0], b[1], _as_v2(_spoil(b[2], number)))]
    labels = []
    for a, b in zip(old.labels, new.labels, strict=True):
        labels += [a, (b[0], b[1], _as_v2(b[2]))]
    assert sum(SCHEMA_V2.encode() in m for _, _, m in (*events, *labels)) == len(events) // 2 + len(
        labels) // 2
    bootstrap = module_broker.bootstrap
    create_topics(bootstrap, {EVENTS_TOPIC: 4, LABELS_TOPIC: 2})
    with temporary_database("infersight_wire_v2") as url:
        upgrade(url)
        install_references(url, ("fraud", "churn"))
        expected = expected_offsets(produce(bootstrap, EVENTS_TOPIC, events),
                                    produce(bootstrap, LABELS_TOPIC, labels))
        engine = make_engine(url)
        bus = KafkaConsumerBus(bootstrap, GROUP, [EVENTS_TOPIC, LABELS_TOPIC],
                               session_timeout_ms=6000, heartbeat_interval_ms=1000)
        config = WorkerConfig(window_s=WINDOW_S, eval_interval_s=0.5, group=GROUP,
                              poll_timeout_s=0.2)
        running = start(Worker(bus, engine, config))
        try:
            wait_until_done(url, GROUP, expected, timeout=90)
        finally:
            running.stop()
        with session_factory(engine)() as session:
            letters = [(d.reason, d.payload) for d in session.scalars(select(DeadLetter))]
        engine.dispose()
        yield {"points": metric_snapshot(url), "letters": letters, "url": url}


def _of(points: dict[Any, Any], model: str) -> dict[Any, Any]:
    return {("m", *key[1:]): value for key, value in points.items() if key[0] == model}


def test_v2_batches_give_the_same_metric_points_as_the_same_events_in_v1(run) -> None:
    v1, v2 = _of(run["points"], "fraud"), _of(run["points"], "churn")
    assert any(key[4] == "count" for key in v1) and any(key[4] == "accuracy" for key in v1)
    assert_same_metrics(v1, v2)


def test_bad_v2_events_are_dead_lettered_with_the_reasons_of_v1(run) -> None:
    def reasons(model: str) -> list[str]:
        return sorted(reason for reason, payload in run["letters"]
                      if f'"model":"{model}"'.encode() in payload)

    assert reasons("fraud") == reasons("churn")
    assert set(reasons("churn")) == {"wrong_type", "invalid_timestamp"}
