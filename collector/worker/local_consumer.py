"""The embedded-mode adapter of :class:`~infersight.collector.worker.bus.ConsumerBus`.

Reads the in-process bus of :mod:`infersight.sdk.local_bus` (one partition, 0, per topic).
There is no group: the one worker owns every partition, so the first poll reports them
all as assigned (paused, like the Kafka adapter) and the worker seeks them to the offsets
stored in its database, exactly as with Kafka.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from infersight.collector.worker.bus import AssignmentChange, Record, TopicPartition


class LocalBusLike(Protocol):
    def read(
        self, topic: str, offset: int, max_messages: int = 1000, timeout: float = 0.0
    ) -> list[tuple[int, Any, Any]]: ...

    def publish(self, topic: str, key: Any, value: Any) -> Any: ...

    def end_offset(self, topic: str) -> int: ...

    def start_offset(self, topic: str) -> int: ...


def _as_bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


class LocalConsumerBus:
    """Consumes ``topics`` from an in-process bus (partition 0 of each)."""

    def __init__(self, bus: LocalBusLike, topics: Sequence[str]) -> None:
        self._bus = bus
        self._tps: list[TopicPartition] = [(topic, 0) for topic in topics]
        self._positions: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set(self._tps)
        self._announced = False

    def take_assignment_changes(self) -> AssignmentChange:
        if self._announced:
            return AssignmentChange()
        self._announced = True
        return AssignmentChange(assigned=set(self._tps))

    def poll(self, timeout_s: float, max_records: int) -> list[Record]:
        deadline = time.monotonic() + timeout_s
        while True:
            records: list[Record] = []
            for tp in self._tps:
                if tp in self._paused or len(records) >= max_records:
                    continue
                position = self._positions.get(tp, self._bus.start_offset(tp[0]))
                for offset, key, value in self._bus.read(
                    tp[0], position, max_messages=max_records - len(records)
                ):
                    value_bytes = _as_bytes(value)
                    records.append(Record(tp[0], 0, offset, _as_bytes(key), value_bytes or b""))
                    position = offset + 1
                self._positions[tp] = position
            remaining = deadline - time.monotonic()
            if records or remaining <= 0:
                return records
            time.sleep(min(0.02, remaining))

    def assignment(self) -> set[TopicPartition]:
        return set(self._tps)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._positions[tp] = max(offset, self._bus.start_offset(tp[0]))

    def pause(self, tps: Iterable[TopicPartition]) -> None:
        self._paused.update(tps)

    def resume(self, tps: Iterable[TopicPartition]) -> None:
        self._paused.difference_update(tps)

    def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self._bus.end_offset(tp[0]) for tp in tps}

    def close(self) -> None:
        self._paused = set(self._tps)


class LocalDeadLetterPublisher:
    """Publishes dead letters to the in-process bus."""

    def __init__(self, bus: LocalBusLike, topic: str) -> None:
        self._bus = bus
        self._topic = topic

    def publish(self, key: bytes | None, value: bytes) -> None:
        self._bus.publish(self._topic, key, value)

    def flush(self, timeout_s: float) -> None:
        return None

    def close(self) -> None:
        return None
