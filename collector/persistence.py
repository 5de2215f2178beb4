"""The worker's reads and writes, in the caller's transaction (SQLAlchemy Core).

Everything a polled batch derives — window states, prediction-index rows, label-join
effects, dead letters, watermarks and the consumed offsets — is written through these
functions inside one transaction. Upserts use ``INSERT … ON CONFLICT`` on both Postgres
and SQLite. The offset update is a compare-and-set: a worker that lost its partition to
another (a "zombie" after a rebalance it did not notice) fails to commit instead of
overwriting the new owner's work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from infersight.storage.models import (
    ConsumerOffset,
    DeadLetter,
    PendingLabel,
    PredictionIndex,
    Watermark,
    WindowState,
)
from infersight.storage.types import utc_now
from infersight.storage.upsert import dialect_insert
from sqlalchemy import Table, func, select, tuple_
from sqlalchemy.orm import Session

offsets_table: Table = ConsumerOffset.__table__
states_table: Table = WindowState.__table__
index_table: Table = PredictionIndex.__table__
pending_table: Table = PendingLabel.__table__
deadletters_table: Table = DeadLetter.__table__
watermarks_table: Table = Watermark.__table__

_CHUNK = 500
"""Rows per ``IN (…)`` lookup."""

_json_encoder = msgspec.json.Encoder()


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- window states -----------------------------------------------------------------------

StateKey = tuple[str, str, datetime, str]
"""``(model, version, window_start, partition_key)``."""


@dataclass(slots=True)
class StoredState:
    state: bytes
    event_count: int


def load_states(session: Session, keys: Sequence[StateKey]) -> dict[StateKey, StoredState]:
    """The stored rows among ``keys``."""
    found: dict[StateKey, StoredState] = {}
    c = states_table.c
    for chunk in _chunks(sorted(set(keys))):
        rows = session.execute(
            select(c.model, c.version, c.window_start, c.partition_key, c.state, c.event_count)
            .where(tuple_(c.model, c.version, c.window_start, c.partition_key).in_(list(chunk)))
        )
        for model, version, start, pkey, state, count in rows:
            found[(model, version, start, pkey)] = StoredState(bytes(state), int(count))
    return found


def save_states(
    session: Session, rows: Sequence[tuple[StateKey, datetime, bytes, int]]
) -> None:
    """Upsert ``(key, window_end, state, event_count)`` rows (absolute values, not deltas)."""
    if not rows:
        return
    now = utc_now()
    values = [
        {
            "model": key[0], "version": key[1], "window_start": key[2], "partition_key": key[3],
            "window_end": end, "state": state, "event_count": count, "updated_at": now,
        }
        for key, end, state, count in sorted(rows, key=lambda row: row[0])
    ]
    stmt = dialect_insert(session, states_table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["model", "version", "window_start", "partition_key"],
        set_={
            "window_end": stmt.excluded.window_end,
            "state": stmt.excluded.state,
            "event_count": stmt.excluded.event_count,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    session.execute(stmt, values)


def window_rows(
    session: Session, model: str, version: str, window_start: datetime
) -> list[tuple[str, bytes, int, datetime]]:
    """All partition rows of one window: ``(partition_key, state, event_count, window_end)``."""
    c = states_table.c
    rows = session.execute(
        select(c.partition_key, c.state, c.event_count, c.window_end)
        .where(c.model == model, c.version == version, c.window_start == window_start)
        .order_by(c.partition_key)
    )
    return [(pkey, bytes(state), int(count), end) for pkey, state, count, end in rows]


def stale_windows(
    session: Session, evaluated: Table, since: datetime, margin_s: float
) -> list[tuple[str, str, datetime]]:
    """Windows updated since ``since`` whose last evaluation is missing, or older than their
    last update plus ``margin_s`` (a transaction's ``updated_at`` precedes its commit)."""
    s, m = states_table.c, evaluated.c
    updates = session.execute(
        select(s.model, s.version, s.window_start, func.max(s.updated_at))
        .where(s.updated_at >= since)
        .group_by(s.model, s.version, s.window_start)
    ).all()
    if not updates:
        return []
    evaluations = {
        (model, version, start): at
        for model, version, start, at in session.execute(
            select(m.model, m.version, m.window_start, func.min(m.evaluated_at))
            .where(m.metric == "count", m.feature == "", m.window_start >= min(
                row[2] for row in updates))
            .group_by(m.model, m.version, m.window_start)
        )
    }
    margin = timedelta(seconds=margin_s)
    stale = []
    for model, version, start, updated in updates:
        at = evaluations.get((model, version, start))
        if at is None or at < updated + margin:
            stale.append((model, version, start))
    return sorted(stale)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
