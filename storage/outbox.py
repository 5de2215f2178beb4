"""The notification outbox (``alert_notifications``): insert, lease the due ones, list."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infersight.storage.alert_tables import AlertNotification
from infersight.storage.upsert import insert_if_absent
from sqlalchemy import select
from sqlalchemy.orm import Session


def insert_notification(session: Session, row: Mapping[str, Any]) -> bool:
    """Insert a notification unless its ``idempotency_key`` exists; True when inserted."""
    return insert_if_absent(session, AlertNotification, row, conflict=["idempotency_key"])


def lease_due(
    session: Session, now: datetime, lease_until: datetime, limit: int
) -> list[AlertNotification]:
    """Up to ``limit`` pending notifications due at ``now``, oldest due first, with their
    ``next_attempt_at`` pushed to ``lease_until`` (rows other transactions hold are skipped
    on Postgres: ``FOR UPDATE SKIP LOCKED``)."""
    statement = (
        select(AlertNotification)
        .where(AlertNotification.state == "pending", AlertNotification.next_attempt_at <= now)
        .order_by(AlertNotification.next_attempt_at, AlertNotification.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    rows = list(session.scalars(statement))
    for row in rows:
        row.next_attempt_at = lease_until
    session.flush()
    return rows


def get_notification(session: Session, notification_id: int) -> AlertNotification | None:
    """The notification with this id."""
    return session.get(AlertNotification, notification_id)


def requeue(session: Session, row: AlertNotification, now: datetime) -> None:
    """Make ``row`` pending again, due at ``now``, its age counting from ``now``."""
    row.state, row.next_attempt_at, row.created_at = "pending", now, now
    session.flush()


def list_notifications(
    session: Session, state: str | None = None, limit: int = 100
) -> list[AlertNotification]:
    """Latest notifications first, optionally only ``pending``, ``sent`` or ``dead``."""
    statement = select(AlertNotification).order_by(AlertNotification.id.desc()).limit(limit)
    if state is not None:
        statement = statement.where(AlertNotification.state == state)
    return list(session.scalars(statement))
