"""Window states: serialised mergeable state per (model, version, window, partition).

Two tables share the layout: ``window_states`` (drift, built on the version's reference) and
``health_states`` (requests, errors, latency, tokens, cost; no reference needed); the
functions taking ``table`` read or write either (``window_states`` by default).

Each input partition owns its rows (``partition_key`` such as ``infersight.events/3``), so an
upsert replaces the partition's state with its newer, larger state; readers merge all rows
of a window (or of a range of windows) by addition.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from infersight.storage.metrics import EVALUATION_MARKERS
from infersight.storage.models import HealthState, MetricPoint, WindowState
from infersight.storage.rollups import execute_rows
from infersight.storage.types import utc_now
from infersight.storage.upsert import upsert
from sqlalchemy import Select, Table, func, select, text, tuple_
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


StateTable = type[WindowState] | type[HealthState]
"""``WindowState`` (drift) or ``HealthState`` (health): the two tables of partition states."""

_KEY = ("model", "version", "window_start", "partition_key")
_UPDATE = ("window_end", "state", "event_count", "updated_at")


def upsert_window_states(
    session: Session, records: Iterable[WindowStateRecord], table: StateTable = WindowState
) -> int:
    """Write window states in bulk; an existing (model, version, window, partition) is replaced.

    Rows are written in key order (one lock order across workers).
    """
    now = utc_now()
    ordered = list(records)
    # A naive datetime among aware ones cannot be sorted: writing it below names the problem.
    with contextlib.suppress(TypeError):
        ordered.sort(key=lambda r: (r.model, r.version, r.window_start, r.partition_key))
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
        for r in ordered
    ]
    return upsert(session, table, rows, conflict=_KEY, update=_UPDATE)


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
    session: Session, model: str, version: str, window_start: datetime,
    table: StateTable = WindowState,
) -> list[WindowStateRecord]:
    """Every partition's state of one window (merge them to evaluate the window)."""
    query = (
        select(table)
        .where(table.model == model, table.version == version, table.window_start == window_start)
        .order_by(table.partition_key)
    )
    return _records(session, query)


def _records(session: Session, query: Select[Any]) -> list[WindowStateRecord]:
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


def read_window_states(
    session: Session, model: str, version: str, ranges: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, bytes]]:
    """``(window_start, state)`` of every partition's row of (model, version) with
    ``window_start`` in one of the ``[start, end)`` ranges (raw bytes, no ORM objects)."""
    rows: list[tuple[datetime, bytes]] = []
    for start, end in ranges:
        query = select(WindowState.window_start, WindowState.state).where(
            WindowState.model == model,
            WindowState.version == version,
            WindowState.window_start >= start,
            WindowState.window_start < end,
        )
        rows.extend((ws, bytes(state)) for ws, state in execute_rows(session, query))
    return rows


StateKey = tuple[str, str, datetime, str]
"""``(model, version, window_start, partition_key)``: one partition's row of one window."""


_CHUNK = 500
"""Keys per ``IN (…)`` lookup."""


def find_window_states(
    session: Session, keys: Sequence[StateKey], table: StateTable = WindowState
) -> dict[StateKey, WindowStateRecord]:
    """The stored rows among ``keys`` (absent keys are simply missing)."""
    found: dict[StateKey, WindowStateRecord] = {}
    c = _columns(table)
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = session.execute(
            select(c.model, c.version, c.window_start, c.window_end, c.partition_key, c.state,
                   c.event_count, c.updated_at)
            .where(tuple_(c.model, c.version, c.window_start, c.partition_key).in_(chunk))
        )
        for model, version, window_start, window_end, pkey, state, count, updated in rows:
            found[(model, version, window_start, pkey)] = WindowStateRecord(
                model, version, window_start, window_end, pkey, bytes(state), int(count), updated
            )
    return found


def _columns(table: StateTable) -> Any:
    states: Table = table.__table__
    return states.c


def stale_windows(
    session: Session, since: datetime, margin_s: float
) -> list[tuple[str, str, datetime]]:
    """``(model, version, window_start)`` of windows updated since ``since`` whose evaluation
    is missing, or older than their last update plus ``margin_s`` (a transaction's
    ``updated_at`` precedes its commit): the ``count`` metric point of drift states, the
    ``request_count`` point of health states."""
    stale: set[tuple[str, str, datetime]] = set()
    for table, metric in zip((WindowState, HealthState), EVALUATION_MARKERS, strict=True):
        stale.update(_unevaluated(session, table, metric, since, margin_s))
    return sorted(stale)


def _unevaluated(
    session: Session, table: StateTable, metric: str, since: datetime, margin_s: float
) -> list[tuple[str, str, datetime]]:
    s, m = _columns(table), MetricPoint.__table__.c
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
            .where(m.metric == metric, m.feature == "", m.window_start >= min(
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
    return stale


def _lock_id(model: str, version: str, window_start: datetime) -> int:
    digest = hashlib.blake2b(
        f"{model}\0{version}\0{window_start.isoformat()}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_window(session: Session, model: str, version: str, window_start: datetime) -> None:
    """On Postgres, take the window's transaction-scoped advisory lock (evaluations of one
    window take turns); nothing elsewhere (SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": _lock_id(model, version, window_start)},
        )
