"""Silences (``alert_silences``): label matchers and the time range they apply in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from infersight.storage.alert_tables import AlertSilence
from sqlalchemy import select
from sqlalchemy.orm import Session


def add_silence(
    session: Session,
    *,
    matchers: list[dict[str, Any]],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str | None,
    comment: str | None,
    now: datetime,
) -> AlertSilence:
    """Store a silence; its ``id`` is set on return."""
    row = AlertSilence(matchers=matchers, starts_at=starts_at, ends_at=ends_at,
                       created_by=created_by, comment=comment, created_at=now)
    session.add(row)
    session.flush()
    return row


def active_matchers(session: Session, now: datetime) -> list[Any]:
    """The stored matcher lists of the silences in force at ``now``."""
    rows = session.scalars(
        select(AlertSilence).where(AlertSilence.starts_at <= now, AlertSilence.ends_at > now)
    )
    return [row.matchers for row in rows]


def list_silences(session: Session, ending_after: datetime | None = None) -> list[AlertSilence]:
    """Silences by id; only those ending after ``ending_after`` when it is given."""
    statement = select(AlertSilence).order_by(AlertSilence.id)
    if ending_after is not None:
        statement = statement.where(AlertSilence.ends_at > ending_after)
    return list(session.scalars(statement))


def get_silence(session: Session, silence_id: int) -> AlertSilence | None:
    """The silence with this id."""
    return session.get(AlertSilence, silence_id)


def expire_silence(session: Session, row: AlertSilence, now: datetime) -> None:
    """End ``row`` at ``now`` unless it ends earlier already."""
    row.ends_at = min(row.ends_at, now)
    session.flush()
