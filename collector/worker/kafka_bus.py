"""The Kafka adapter of :class:`~infersight.collector.worker.bus.ConsumerBus` (kafka-python).

A consumer group member with auto-commit off: offsets live in the database. The
rebalance listener runs on kafka-python's IO thread, so it only records the change and
pauses newly assigned partitions; the worker's loop seeks them to their stored offsets and
resumes them. kafka-python reconnects to the broker by itself; a broker outage shows up
as empty polls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from infersight.collector.worker.bus import AssignmentChange, Record, TopicPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError

log = logging.getLogger(__name__)


def _tp(tp: TopicPartition) -> KafkaTopicPartition:
    return KafkaTopicPartition(tp[0], tp[1])


class _PendingChanges:
    """Assignment changes recorded on kafka-python's IO thread, taken by the worker's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._change = AssignmentChange()

    def record(
        self, assigned: Iterable[TopicPartition] = (), revoked: Iterable[TopicPartition] = ()
    ) -> None:
        with self._lock:
            for tp in revoked:
                self._change.assigned.discard(tp)
                self._change.revoked.add(tp)
            for tp in assigned:
                self._change.assigned.add(tp)

    def take(self) -> AssignmentChange:
        with self._lock:
            change, self._change = self._change, AssignmentChange()
        return change


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python is untyped
    """Records the change and pauses new partitions until the worker has sought them."""

    def __init__(self, changes: _PendingChanges, consumer: KafkaConsumer) -> None:
        self._changes = changes
        self._consumer = consumer

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._changes.record(revoked=[(tp.topic, tp.partition) for tp in revoked])

    def on_partitions_assigned(self, assigned: Any) -> None:
        tps = [(tp.topic, tp.partition) for tp in assigned]
        # Hold the new partitions until the worker has sought them to the stored offsets.
        self._consumer.pause(*assigned)
        self._changes.record(assigned=tps)

    def on_partitions_lost(self, lost: Any) -> None:
        self.on_partitions_revoked(lost)


class KafkaConsumerBus:
    """A kafka-python consumer group member on the given topics.

    ``options`` are passed to :class:`kafka.KafkaConsumer` (e.g. ``session_timeout_ms``, or
    :meth:`~infersight.sdk.kafka_security.KafkaSecurity.client_options` for TLS/SASL).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        topics: Sequence[str],
        **options: Any,
    ) -> None:
        config: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_partition_fetch_bytes": 8 * 1024 * 1024,
            "client_id": f"infersight-worker-{group_id}",
        }
        config.update(options)
        self._last_warning = 0.0
        self._changes = _PendingChanges()
        self._consumer = KafkaConsumer(**config)
        self._consumer.subscribe(topics=list(topics),
                                 listener=_Listener(self._changes, self._consumer))

    def take_assignment_changes(self) -> AssignmentChange:
        return self._changes.take()

    def poll(self, timeout_s: float, max_records: int) -> list[Record]:
        """Fetched records; none while the broker is unreachable (kafka-python reconnects)."""
        try:
            batches = self._consumer.poll(
                timeout_ms=int(timeout_s * 1000), max_records=max_records
            )
        except KafkaError as exc:
            now = time.monotonic()
            if now - self._last_warning > 10.0:
                self._last_warning = now
                log.warning("broker unavailable (%s); retrying", exc)
            time.sleep(min(max(timeout_s, 0.1), 1.0))
            return []
        return [
            Record(tp.topic, tp.partition, message.offset, message.key, message.value or b"")
            for tp, messages in batches.items()
            for message in messages
        ]

    def assignment(self) -> set[TopicPartition]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        try:
            self._consumer.seek(_tp(tp), offset)
        except (KafkaError, AssertionError) as exc:  # revoked meanwhile: the loop will see it
            log.info("cannot seek %s/%s: %s", tp[0], tp[1], exc)

    def pause(self, tps: Iterable[TopicPartition]) -> None:
        owned = self._consumer.assignment()
        self._consumer.pause(*[_tp(tp) for tp in tps if _tp(tp) in owned])

    def resume(self, tps: Iterable[TopicPartition]) -> None:
        owned = self._consumer.assignment()
        self._consumer.resume(*[_tp(tp) for tp in tps if _tp(tp) in owned])

    def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        if not tps:
            return {}
        try:
            ends = self._consumer.end_offsets([_tp(tp) for tp in tps], timeout_ms=2000)
        except KafkaError as exc:
            log.debug("end offsets unavailable: %s", exc)
            return {}
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}

    def close(self) -> None:
        self._consumer.close(autocommit=False)


class KafkaDeadLetterPublisher:
    """Produces dead letters to ``infersight.deadletter``; failures are logged, not raised.

    The database row written in the worker's transaction is the record of truth.
    """

    def __init__(self, bootstrap_servers: str, topic: str, **options: Any) -> None:
        """``options`` are passed to :class:`kafka.KafkaProducer` (e.g. TLS/SASL settings)."""
        self._topic = topic
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers, acks=1, linger_ms=5, max_block_ms=2000,
            **options,
        )

    def publish(self, key: bytes | None, value: bytes) -> None:
        try:
            self._producer.send(self._topic, key=key, value=value)
        except Exception as exc:  # the broker being down must not stop the worker
            log.warning("dead letter not produced to %s: %s", self._topic, exc)

    def flush(self, timeout_s: float) -> None:
        try:
            self._producer.flush(timeout=timeout_s)
        except Exception as exc:
            log.warning("dead letters not flushed: %s", exc)

    def close(self) -> None:
        self._producer.close(timeout=2)
