"""Retention: purge rows that outlived their settings.

The prediction index is kept ``INFERSIGHT_PREDICTION_RETENTION`` (default 30 days, by the
prediction's event time): on Postgres whole daily partitions are dropped
(``storage/partitions.py``), so a prediction stays up to a day longer; SQLite deletes rows.
Dead letters are kept ``INFERSIGHT_DEAD_LETTER_RETENTION``. Pending labels
expire through :func:`infersight.storage.labels.expire_pending_labels`, because the caller
dead-letters them.

>>> from datetime import UTC, datetime
>>> cutoff(86400, now=datetime(2024, 1, 2, tzinfo=UTC))
datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from infersight.storage import partitions
from infersight.storage.models import DeadLetter, HeldPrediction, PredictionIndex
from infersight.storage.types import UtcDateTime, utc_now
from sqlalchemy import bindparam, delete, text
from sqlalchemy.orm import Session


def cutoff(retention_seconds: float, now: datetime | None = None) -> datetime:
    """The oldest time still kept under a retention of ``retention_seconds``."""
    if retention_seconds <= 0:
        raise ValueError(f"retention must be positive, got {retention_seconds!r} seconds")
    return (now or utc_now()) - timedelta(seconds=retention_seconds)


def purge_prediction_index(session: Session, older_than: datetime) -> int:
    """Remove indexed predictions whose event time is before ``older_than`` (and their held
    events); returns how many (on Postgres the dropped partitions count by the planner's
    estimate). Postgres also creates the partitions ahead (:func:`partitions.maintain`)."""
    session.execute(
        delete(HeldPrediction).where(HeldPrediction.ts < older_than)
        .execution_options(synchronize_session=False)
    )
    if partitions.is_partitioned(session):
        done = partitions.maintain(session, utc_now(), older_than)
        return int(done.dropped_rows)
    result = session.execute(
        delete(PredictionIndex)
        .where(PredictionIndex.ts < older_than)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge_dead_letters(session: Session, older_than: datetime) -> int:
    """Delete dead letters stored before ``older_than``; returns how many."""
    result = session.execute(
        delete(DeadLetter)
        .where(DeadLetter.created_at < older_than)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge_windows(
    session: Session, spec: partitions.Partitioned, older_than: datetime | None,
) -> int:
    """Remove the rows of ``window_states``, ``health_states`` or ``metric_points`` (``spec``)
    whose window starts before ``older_than`` (None: none); returns how many (Postgres:
    partitions created ahead, whole partitions dropped, counted by the planner's estimate;
    SQLite: ``DELETE``)."""
    if partitions.is_partitioned(session):
        return partitions.maintain(session, utc_now(), older_than, spec=spec).dropped_rows
    if older_than is None:
        return 0
    result = session.execute(
        text(f"DELETE FROM {spec.table} WHERE {spec.column} < :cutoff").bindparams(
            bindparam("cutoff", type_=UtcDateTime())),
        {"cutoff": older_than},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
