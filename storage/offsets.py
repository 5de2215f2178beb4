"""Consumer offsets stored in the database, in the same transaction as the derived state.

A worker seeks to these offsets on partition assignment, which makes aggregation
exactly-once in effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from infersight.storage.models import ConsumerOffset
from infersight.storage.types import utc_now
from infersight.storage.upsert import upsert
from sqlalchemy import select
from sqlalchemy.orm import Session

TopicPartition = tuple[str, int]


def load_offsets(
    session: Session, consumer_group: str, topics: Iterable[str] | None = None
) -> dict[TopicPartition, int]:
    """The next offset to consume per (topic, partition) for ``consumer_group``."""
    query = select(ConsumerOffset).where(ConsumerOffset.consumer_group == consumer_group)
    if topics is not None:
        query = query.where(ConsumerOffset.topic.in_(list(topics)))
    return {(row.topic, row.partition): row.next_offset for row in session.scalars(query)}


def store_offsets(
    session: Session, consumer_group: str, offsets: Mapping[TopicPartition, int]
) -> int:
    """Record the next offset to consume per (topic, partition); returns rows written."""
    now = utc_now()
    rows = []
    for (topic, partition), next_offset in offsets.items():
        if not isinstance(next_offset, int) or isinstance(next_offset, bool) or next_offset < 0:
            raise ValueError(
                f"offset for {topic}/{partition} must be a non-negative int, got {next_offset!r}"
            )
        rows.append(
            {
                "consumer_group": consumer_group,
                "topic": topic,
                "partition": partition,
                "next_offset": next_offset,
                "updated_at": now,
            }
        )
    return upsert(
        session,
        ConsumerOffset,
        rows,
        conflict=("consumer_group", "topic", "partition"),
        update=("next_offset", "updated_at"),
    )
