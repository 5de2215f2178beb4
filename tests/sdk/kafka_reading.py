"""Read back what the SDK produced: every message of a topic, decoded with the wire codec."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infersight.sdk.wire import decode_batch
from kafka import KafkaConsumer, TopicPartition


@dataclass
class ReadMessage:
    key: bytes | None
    value: bytes
    events: list[Any]


def read_topic(
    bootstrap: str, topic: str, *, until: int = 0, timeout: float = 20.0,
    stop_when: Callable[[list[Any]], bool] | None = None,
) -> list[ReadMessage]:
    """All messages of ``topic`` from the beginning, once they hold at least ``until`` events
    (or once ``stop_when(events)`` holds)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=500)
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] | None = None
        while time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions:
                break
            time.sleep(0.2)
        if not partitions:
            return []
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        messages: list[ReadMessage] = []
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=300).values():
                for record in records:
                    decoded = decode_batch(record.value)
                    assert not decoded.rejected, decoded.rejected
                    events = list(decoded.predictions) + list(decoded.labels)
                    messages.append(ReadMessage(record.key, record.value, events))
            events = [event for message in messages for event in message.events]
            if len(events) >= until and (stop_when is None or stop_when(events)):
                break
        return messages
    finally:
        consumer.close()
