"""Window states: serialised mergeable drift state per (model, version, window, partition).

Each input partition owns its rows (``partition_key`` such as ``infersight.events/3``), so an
upsert replaces the partition's state with its newer, larger state; readers merge all rows
of a window (or of a range of windows) by addition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from infersight.storage.models import WindowState
from infersight.storage.types import utc_now
from infersight.storage.upsert import upsert
from sqlalchemy import Select, select
from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class WindowStateRecord:
    """One partition's state of one window."""

    model: str
    version: str
    window_start: datetime
    window_end: datetime
    partition_key: str
    state: bytes
    event_count: int
    updated_at: datetime | None = None


_KEY = ("model", "version", "window_start", "partition_key")
_UPDATE = ("window_end", "state", "event_count", "updated_at")


def upsert_window_states(session: Session, records: Iterable[WindowStateRecord]) -> int:
    """Write window states in bulk; an existing (model, version, window, partition) is replaced."""
    now = utc_now()
    rows = [
        {
            "model": r.model,
            "version": r.version,
            "window_start": r.window_start,
            "window_end": r.window_end,
            "partition_key": r.partition_key,
            "state": r.state,
            "event_count": r.event_count,
            "updated_at": now,
        }
        for r in records
    ]
    return upsert(session, WindowState, rows, conflict=_KEY, update=_UPDATE)


def load_window_states(
    session: Session,
    model: str | None = None,
    *,
    version: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    partition_keys: Iterable[str] | None = None,
) -> list[WindowStateRecord]:
    """Rows with ``window_start`` in ``[start, end)``, optionally one model/version/partitions.

    Ordered by model, version, window_start, partition_key.
    """
    query = select(WindowState)
    if model is not None:
        query = query.where(WindowState.model == model)
    if version is not None:
        query = query.where(WindowState.version == version)
    if start is not None:
        query = query.where(WindowState.window_start >= start)
    if end is not None:
        query = query.where(WindowState.window_start < end)
    if partition_keys is not None:
        query = query.where(WindowState.partition_key.in_(list(partition_keys)))
    query = query.order_by(
        WindowState.model, WindowState.version, WindowState.window_start, WindowState.partition_key
    )
    return _records(session, query)


def load_window(
    session: Session, model: str, version: str, window_start: datetime
) -> list[WindowStateRecord]:
    """Every partition's state of one window (merge them to evaluate the window)."""
    query = (
        select(WindowState)
        .where(
            WindowState.model == model,
            WindowState.version == version,
            WindowState.window_start == window_start,
        )
        .order_by(WindowState.partition_key)
    )
    return _records(session, query)


def _records(session: Session, query: Select[tuple[WindowState]]) -> list[WindowStateRecord]:
    return [
        WindowStateRecord(
            model=row.model,
            version=row.version,
            window_start=row.window_start,
            window_end=row.window_end,
            partition_key=row.partition_key,
            state=row.state,
            event_count=row.event_count,
            updated_at=row.updated_at,
        )
        for row in session.scalars(query)
    ]
