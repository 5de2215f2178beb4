"""The small consumer interface the worker runs on, whatever carries the messages.

Two adapters implement it: :mod:`infersight.collector.worker.kafka_bus` (a kafka-python consumer
group member) and :mod:`infersight.collector.worker.local_consumer` (the in-process bus of the
embedded mode). The worker never talks to kafka-python directly, so the embedded mode and
the production mode run the same worker code.

Offsets are *not* committed to the bus: the worker stores them in the database in the same
transaction as the state it derived from them, and seeks to them when a partition is
assigned (docs/pipeline.md).

>>> Record("infersight.events", 3, 41, b"fraud", b"{}").partition_key
'infersight.events/3'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

TopicPartition = tuple[str, int]
"""``(topic, partition)``."""


def partition_key(topic: str, partition: int) -> str:
    """The ``window_states.partition_key`` of a topic partition.

    >>> partition_key("infersight.labels", 0)
    'infersight.labels/0'
    """
    return f"{topic}/{partition}"


@dataclass(frozen=True, slots=True)
class Record:
    """One bus message: a whole wire-format batch (docs/wire-format.md)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes

    @property
    def topic_partition(self) -> TopicPartition:
        return (self.topic, self.partition)

    @property
    def partition_key(self) -> str:
        return partition_key(self.topic, self.partition)


@dataclass(slots=True)
class AssignmentChange:
    """Partitions gained and lost since the last call to ``take_assignment_changes``."""

    assigned: set[TopicPartition] = field(default_factory=set)
    revoked: set[TopicPartition] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.assigned or self.revoked)


class ConsumerBus(Protocol):
    """What the worker needs from a consumer: poll, seek, pause, and assignment news.

    Newly assigned partitions are *paused* by the adapter until the worker has sought them
    to the offsets stored in the database and resumed them.
    """

    def poll(self, timeout_s: float, max_records: int) -> list[Record]: ...

    def take_assignment_changes(self) -> AssignmentChange: ...

    def assignment(self) -> set[TopicPartition]: ...

    def seek(self, tp: TopicPartition, offset: int) -> None: ...

    def pause(self, tps: Iterable[TopicPartition]) -> None: ...

    def resume(self, tps: Iterable[TopicPartition]) -> None: ...

    def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]: ...

    def close(self) -> None: ...


class DeadLetterPublisher(Protocol):
    """Sends dead letters to ``infersight.deadletter`` (at-least-once, before the commit)."""

    def publish(self, key: bytes | None, value: bytes) -> None: ...

    def flush(self, timeout_s: float) -> None: ...

    def close(self) -> None: ...
