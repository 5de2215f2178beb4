"""The alert state machine's rows (``alert_states``), one per dedup key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infersight.storage.alert_tables import AlertState
from infersight.storage.upsert import insert_missing
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def lock_state(session: Session, dedup_key: str) -> AlertState | None:
    """The state of ``dedup_key``, locked for the transaction on Postgres (``FOR UPDATE``)."""
    statement = select(AlertState).where(AlertState.dedup_key == dedup_key)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return session.scalars(statement).first()


_CHUNK = 500
"""Keys per ``IN (…)`` of :func:`lock_states`."""


def lock_states(session: Session, dedup_keys: Sequence[str]) -> dict[str, AlertState]:
    """The existing states among ``dedup_keys`` in one read per 500 keys, locked for the
    transaction on Postgres (``FOR UPDATE``, in key order: one lock order for every worker)."""
    keys = sorted(set(dedup_keys))
    found: dict[str, AlertState] = {}
    for start in range(0, len(keys), _CHUNK):
        statement = (select(AlertState)
                     .where(AlertState.dedup_key.in_(keys[start : start + _CHUNK]))
                     .order_by(AlertState.dedup_key))
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update()
        found.update((row.dedup_key, row) for row in session.scalars(statement))
    return found


def insert_state_if_absent(session: Session, row: Mapping[str, Any]) -> None:
    """Insert a state row unless its ``dedup_key`` exists (two workers may race for it)."""
    insert_missing(session, AlertState, [row], conflict=["dedup_key"])


def list_states(
    session: Session,
    *,
    status: str | None = None,
    model: str | None = None,
    limit: int | None = 1000,
) -> list[AlertState]:
    """Alert states, most recently updated first, optionally of one status or model."""
    statement = select(AlertState).order_by(AlertState.updated_at.desc())
    if status is not None:
        statement = statement.where(AlertState.status == status)
    if model is not None:
        statement = statement.where(AlertState.model == model)
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.scalars(statement))


def count_firing(session: Session, model: str) -> int:
    """How many alerts of ``model`` are firing now."""
    return int(session.execute(
        select(func.count()).select_from(AlertState)
        .where(AlertState.model == model, AlertState.status == "firing")
    ).scalar_one())
