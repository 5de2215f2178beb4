"""Consumer offsets stored in the database, in the same transaction as the derived state.

A worker seeks to these offsets on partition assignment, which makes aggregation
exactly-once in effect. Saving is a compare-and-set: a worker that lost its partition to
another (a "zombie" after a rebalance it did not notice) fails with :class:`OffsetConflict`
instead of overwriting the new owner's work. Nothing here commits; the caller owns the
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from infersight.storage.models import ConsumerOffset
from infersight.storage.types import utc_now
from infersight.storage.upsert import dialect_insert
from sqlalchemy import Table, and_, select, update
from sqlalchemy.orm import Session

TopicPartition = tuple[str, int]

_OFFSETS: Table = ConsumerOffset.__table__


class OffsetConflict(RuntimeError):
    """Another worker has committed this partition since we read its offset."""


def load_offsets(
    session: Session, consumer_group: str, partitions: Iterable[TopicPartition] | None = None
) -> dict[TopicPartition, int]:
    """The stored next offset per (topic, partition) of ``consumer_group`` (of ``partitions``
    only, if given); partitions never committed are absent."""
    c = _OFFSETS.c
    rows = session.execute(
        select(c.topic, c.partition, c.next_offset).where(c.consumer_group == consumer_group)
    )
    found = {(topic, partition): int(offset) for topic, partition, offset in rows}
    if partitions is None:
        return found
    wanted = set(partitions)
    return {tp: offset for tp, offset in found.items() if tp in wanted}


def save_offsets(
    session: Session,
    consumer_group: str,
    offsets: Mapping[TopicPartition, tuple[int | None, int]],
) -> None:
    """Store ``{tp: (previous, next)}``, failing with :class:`OffsetConflict` if a stored
    offset is no longer ``previous`` (None: no row was stored).

    Partitions are written in sorted order (one lock order across workers).
    """
    for (topic, partition), (previous, next_offset) in offsets.items():
        for value in (next_offset,) if previous is None else (previous, next_offset):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"offsets for {topic}/{partition} must be non-negative ints, got {value!r}"
                )
    now = utc_now()
    c = _OFFSETS.c
    for (topic, partition), (previous, next_offset) in sorted(offsets.items()):
        if previous is None:
            inserted = session.execute(
                dialect_insert(session, _OFFSETS)
                .values(
                    consumer_group=consumer_group, topic=topic, partition=partition,
                    next_offset=next_offset, updated_at=now,
                )
                .on_conflict_do_nothing()
                .returning(c.next_offset)
            )
            if inserted.first() is None:
                raise OffsetConflict(f"{topic}/{partition} was committed by another worker")
            continue
        key = and_(
            c.consumer_group == consumer_group, c.topic == topic, c.partition == partition
        )
        result = session.execute(
            update(_OFFSETS)
            .where(key, c.next_offset == previous)
            .values(next_offset=next_offset, updated_at=now)
            .returning(c.next_offset)
        )
        if result.first() is None:
            raise OffsetConflict(f"{topic}/{partition} moved past {previous} in another worker")
