"""Dead letters: events that could not be processed, kept with the reason and raw bytes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from infersight.storage.models import DeadLetter
from infersight.storage.types import utc_now
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """An unprocessable event; topic/partition/offset locate it when it came from Kafka."""

    reason: str
    payload: bytes | None = None
    detail: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    created_at: datetime | None = None


def add_dead_letters(session: Session, records: Iterable[DeadLetterRecord]) -> int:
    """Store dead letters in bulk; returns how many."""
    now = utc_now()
    rows = [
        {
            "topic": r.topic,
            "partition": r.partition,
            "offset": r.offset,
            "reason": r.reason,
            "detail": r.detail,
            "payload": r.payload,
            "created_at": r.created_at or now,
        }
        for r in records
    ]
    if rows:
        session.execute(insert(DeadLetter), rows)
    return len(rows)


def list_dead_letters(
    session: Session,
    *,
    reason: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[DeadLetter]:
    """The most recent dead letters first, optionally of one reason or since a time."""
    query = select(DeadLetter)
    if reason is not None:
        query = query.where(DeadLetter.reason == reason)
    if since is not None:
        query = query.where(DeadLetter.created_at >= since)
    query = query.order_by(DeadLetter.created_at.desc(), DeadLetter.id.desc()).limit(limit)
    return list(session.scalars(query))


def count_dead_letters(session: Session, *, since: datetime | None = None) -> dict[str, int]:
    """Number of dead letters per reason."""
    query = select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)
    if since is not None:
        query = query.where(DeadLetter.created_at >= since)
    return {reason: count for reason, count in session.execute(query)}
