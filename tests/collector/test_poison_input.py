"""Malformed input never stops the worker: good events are counted, bad ones dead-lettered
with a reason (a row in ``dead_letters`` and a message on ``infersight.deadletter``)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.kafka_bus import KafkaConsumerBus, KafkaDeadLetterPublisher
from infersight.collector.worker.loop import Worker
from infersight.sdk.wire import DEADLETTER_TOPIC, EVENTS_TOPIC, LABELS_TOPIC, encode_batch
from infersight.storage.db import make_engine
from infersight.storage.models import DeadLetter, MetricPoint
from kafka import KafkaConsumer
from sqlalchemy import func, select

from tests.collector.harness import create_topics, produce, wait_until_done
from tests.collector.inprocess import start
from tests.collector.streams import BASE_TS
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def good(i: int) -> dict[str, object]:
    return {
        "type": "prediction", "model": "fraud", "version": "1", "prediction_id": f"ok-{i}",
        "ts": (BASE_TS + timedelta(seconds=i)).isoformat(),
        "features": {"amount": 10.0 + i, "age": 30 + i % 7, "score_a": 0.5, "country": "DE"},
        "prediction": 0.3,
    }


POISON: list[tuple[bytes, str]] = [
    (b'{"schema": "infersight.events/v1", "events": [', "invalid_json"),
    (b"\xff\xfe not utf-8", "invalid_json"),
    (b'{"schema": "infersight.events/v1", "events": [{"type": "prediction", "model": "m"}]}',
     "missing_field"),
    (b'{"schema": "infersight.events/v9", "events": []}', "unknown_schema"),
    (b'[1, 2, 3]', "not_a_batch"),
    (b'{"schema": "infersight.events/v1", "events": [{"type": "prediction", "model": "fraud", '
     b'"version": "1", "prediction_id": "nan", "ts": "2026-01-05T09:00:00Z", '
     b'"features": {"amount": NaN}, "prediction": 0.1}]}', "invalid_json"),
    (b'{"schema": "infersight.events/v1", "events": [{"type": "prediction", "model": "fraud", '
     b'"version": "1", "prediction_id": "inf", "ts": "2026-01-05T09:00:00Z", '
     b'"features": {"amount": 1e999}, "prediction": 0.1}]}', "non_finite"),
    (b'{"schema": "infersight.events/v1", "events": [{"type": "prediction", "model": "fraud", '
     b'"version": "1", "prediction_id": "wt", "ts": "2026-01-05T09:00:00Z", '
     b'"features": [1, 2], "prediction": 0.1}]}', "wrong_type"),
    (b'{"schema": "infersight.events/v1", "events": ["' + b"x" * (5 * 1024 * 1024) + b'"]}',
     "oversize"),
]


def test_poison_messages_are_dead_lettered_and_good_events_counted(
    fresh_kafka_broker: TansuBroker, migrated_postgres: str, tmp_path: Path
) -> None:
    bootstrap = fresh_kafka_broker.bootstrap
    create_topics(bootstrap, {EVENTS_TOPIC: 2, LABELS_TOPIC: 1})
    mixed = encode_batch([good(100), good(101)])[:-2] + (
        b',{"type": "prediction", "model": "fraud"},'
        b'{"type": "label", "model": "fraud", "prediction_id": "ok-1", "label": 1, "ts": "yesterday"},'
        b'{"type": "teleport"}]}'
    )
    messages = [(0, b"fraud", encode_batch([good(i) for i in range(10)]))]
    messages += [(i % 2, b"fraud", raw) for i, (raw, _reason) in enumerate(POISON)]
    messages += [(1, b"fraud", mixed), (0, b"fraud", encode_batch([good(i) for i in range(10, 20)]))]
    counts = produce(bootstrap, EVENTS_TOPIC, messages)
    expected = {(EVENTS_TOPIC, p): n for p, n in counts.items()}

    config = WorkerConfig(window_s=60, eval_interval_s=0.5, group="poison", poll_timeout_s=0.2)
    bus = KafkaConsumerBus(bootstrap, "poison", [EVENTS_TOPIC, LABELS_TOPIC],
                           session_timeout_ms=6000, heartbeat_interval_ms=1000)
    engine = make_engine(migrated_postgres)
    running = start(Worker(bus, engine, config,
                           deadletters=KafkaDeadLetterPublisher(bootstrap, DEADLETTER_TOPIC)))
    try:
        wait_until_done(migrated_postgres, "poison", expected, timeout=60)
        assert running.thread.is_alive()
    finally:
        running.stop()

    with engine.connect() as conn:
        reasons = Counter(conn.execute(select(DeadLetter.reason)).scalars())
        count = conn.execute(
            select(func.sum(MetricPoint.value))
            .where(MetricPoint.metric == "count", MetricPoint.feature == "")
        ).scalar_one()
    engine.dispose()
    assert count == 22  # 20 good single-kind batches + the 2 good events of the mixed batch
    expected_reasons = Counter(reason for _raw, reason in POISON)
    expected_reasons.update(["missing_field", "invalid_timestamp", "unknown_type"])
    assert reasons == expected_reasons
    counted = running.worker.metrics.events_deadlettered
    assert {r: counted.labels(reason=r)._value.get() for r in reasons} == dict(expected_reasons)

    consumer = KafkaConsumer(DEADLETTER_TOPIC, bootstrap_servers=bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    try:
        topic_letters = sum(1 for _ in consumer)
    finally:
        consumer.close()
    assert topic_letters >= sum(expected_reasons.values())
