"""The worker's reads and writes, in the caller's transaction (SQLAlchemy Core).

Everything a polled batch derives — window states, prediction-index rows, label-join
effects, dead letters, watermarks and the consumed offsets — is written through these
functions inside one transaction. Upserts use ``INSERT … ON CONFLICT`` on both Postgres
and SQLite. The offset update is a compare-and-set: a worker that lost its partition to
another (a "zombie" after a rebalance it did not notice) fails to commit instead of
overwriting the new owner's work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from infersight.collector.bus import TopicPartition
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
from sqlalchemy import Table, and_, delete, func, select, tuple_, update
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


class OffsetConflict(RuntimeError):
    """Another worker has committed this partition since we read its offset."""


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- offsets -----------------------------------------------------------------------------


def load_offsets(
    session: Session, group: str, tps: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Stored next offsets of ``tps`` (partitions never committed are absent)."""
    wanted = set(tps)
    rows = session.execute(
        select(offsets_table.c.topic, offsets_table.c.partition, offsets_table.c.next_offset)
        .where(offsets_table.c.consumer_group == group)
    )
    return {(t, p): int(o) for t, p, o in rows if (t, p) in wanted}


def save_offsets(
    session: Session,
    group: str,
    offsets: Mapping[TopicPartition, tuple[int | None, int]],
) -> None:
    """Store ``{tp: (previous, next)}``, failing with :class:`OffsetConflict` if a stored
    offset is no longer ``previous`` (None: no row was stored)."""
    now = utc_now()
    for (topic, partition), (previous, next_offset) in sorted(offsets.items()):
        key = and_(
            offsets_table.c.consumer_group == group,
            offsets_table.c.topic == topic,
            offsets_table.c.partition == partition,
        )
        if previous is None:
            inserted = session.execute(
                dialect_insert(session, offsets_table)
                .values(
                    consumer_group=group, topic=topic, partition=partition,
                    next_offset=next_offset, updated_at=now,
                )
                .on_conflict_do_nothing()
                .returning(offsets_table.c.next_offset)
            )
            if inserted.first() is None:
                raise OffsetConflict(f"{topic}/{partition} was committed by another worker")
            continue
        result = session.execute(
            update(offsets_table)
            .where(key, offsets_table.c.next_offset == previous)
            .values(next_offset=next_offset, updated_at=now)
            .returning(offsets_table.c.next_offset)
        )
        if result.first() is None:
            raise OffsetConflict(f"{topic}/{partition} moved past {previous} in another worker")


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


# --- prediction index and label join -----------------------------------------------------


_INCOMING = "infersight_incoming_predictions"
"""Per-connection temporary table the Postgres path copies a batch's predictions into."""


def insert_predictions(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """Insert prediction-index rows; returns the ``(model, prediction_id)`` actually new
    (a prediction already indexed is a duplicate delivery).

    Postgres: ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT DO
    NOTHING RETURNING`` (tens of thousands of rows a second; a multi-row ``VALUES`` costs more
    in building the SQL text than in the database). SQLite: one cached ``executemany``.
    """
    if not rows:
        return set()
    c = index_table.c
    if _dialect(session) != "postgresql":
        ordered = sorted(rows, key=lambda r: (r["model"], r["prediction_id"]))
        stmt = (
            dialect_insert(session, index_table)
            .on_conflict_do_nothing()
            .returning(c.model, c.prediction_id)
        )
        return {(m, p) for m, p in session.execute(stmt, ordered)}
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} (model text, prediction_id text, "
            "version text, window_start timestamptz, ts timestamptz, prediction jsonb) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {_INCOMING}")
        with cursor.copy(
            f"COPY {_INCOMING} (model, prediction_id, version, window_start, ts, prediction) "
            "FROM STDIN"
        ) as copy:
            for r in rows:  # the INSERT below orders them (lock order across workers)
                copy.write_row((r["model"], r["prediction_id"], r["version"], r["window_start"],
                                r["ts"], _json(r["prediction"])))
        cursor.execute(
            f"INSERT INTO {index_table.name} (model, prediction_id, version, window_start, ts, "
            f"prediction) SELECT model, prediction_id, version, window_start, ts, prediction "
            f"FROM {_INCOMING} ORDER BY model, prediction_id "
            "ON CONFLICT DO NOTHING RETURNING model, prediction_id"
        )
        return {(m, p) for m, p in cursor.fetchall()}


def _json(value: Any) -> str:
    return _json_encoder.encode(value).decode()


def take_pending_labels_of_incoming(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[Any, datetime]]:
    """Delete and return the pending labels of the predictions just given to
    :func:`insert_predictions` (``keys``: the new ones; on Postgres a join with the
    temporary table, which also holds re-delivered ones)."""
    if not keys:
        return {}
    if _dialect(session) != "postgresql":
        return take_pending_labels(session, keys)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {pending_table.name} p USING {_INCOMING} i "
            "WHERE p.model = i.model AND p.prediction_id = i.prediction_id "
            "RETURNING p.model, p.prediction_id, p.label, p.ts"
        )
        rows = cursor.fetchall()
    # Also labels of re-delivered predictions (indexed before, the label raced them in):
    # their prediction is indexed, so joining them now is right.
    return {(m, pid): (label, ts) for m, pid, label, ts in rows}


def take_pending_labels(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[Any, datetime]]:
    """Delete and return the pending labels of ``keys``: ``{(model, id): (label, ts)}``."""
    taken: dict[tuple[str, str], tuple[Any, datetime]] = {}
    c = pending_table.c
    for chunk in _chunks(sorted(set(keys))):
        stmt = (
            delete(pending_table)
            .where(tuple_(c.model, c.prediction_id).in_(list(chunk)))
            .returning(c.model, c.prediction_id, c.label, c.ts)
        )
        for model, pid, label, ts in session.execute(stmt):
            taken[(model, pid)] = (label, ts)
    return taken


@dataclass(slots=True)
class IndexedPrediction:
    version: str
    window_start: datetime
    ts: datetime
    prediction: Any
    label: Any
    labelled: bool


def lookup_predictions(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], IndexedPrediction]:
    """Indexed predictions among ``keys``, locked against concurrent label joins."""
    found: dict[tuple[str, str], IndexedPrediction] = {}
    c = index_table.c
    for chunk in _chunks(sorted(set(keys))):
        stmt = (
            select(c.model, c.prediction_id, c.version, c.window_start, c.ts, c.prediction,
                   c.label, c.labelled_at)
            .where(tuple_(c.model, c.prediction_id).in_(list(chunk)))
            .with_for_update()
        )
        for model, pid, version, start, ts, prediction, label, labelled_at in session.execute(stmt):
            found[(model, pid)] = IndexedPrediction(
                version, start, ts, prediction, label, labelled_at is not None
            )
    return found


def mark_labelled(
    session: Session, labelled: Sequence[tuple[str, str, Any]], at: datetime
) -> None:
    """Set ``label`` and ``labelled_at`` of ``(model, prediction_id, label)`` rows."""
    c = index_table.c
    for model, pid, label in sorted(labelled, key=lambda r: (r[0], r[1])):
        session.execute(
            update(index_table)
            .where(c.model == model, c.prediction_id == pid)
            .values(label=label, labelled_at=at)
        )


def add_pending_labels(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Keep labels whose prediction is not indexed yet (a duplicate keeps the first)."""
    if rows:
        session.execute(
            dialect_insert(session, pending_table).on_conflict_do_nothing(),
            sorted(rows, key=lambda r: (r["model"], r["prediction_id"])),
        )


def claimable_pending_labels(
    session: Session, limit: int = 5000
) -> list[tuple[str, str]]:
    """Pending labels whose prediction has arrived since (a race between two workers)."""
    p, i = pending_table.c, index_table.c
    rows = session.execute(
        select(p.model, p.prediction_id)
        .join(index_table, and_(i.model == p.model, i.prediction_id == p.prediction_id))
        .limit(limit)
    )
    return [(m, pid) for m, pid in rows]


def expire_pending_labels(
    session: Session, older_than: datetime, limit: int = 5000
) -> list[tuple[str, str, Any, datetime]]:
    """Delete and return pending labels received before ``older_than``."""
    c = pending_table.c
    keys = [
        (m, pid)
        for m, pid in session.execute(
            select(c.model, c.prediction_id).where(c.received_at < older_than).limit(limit)
        )
    ]
    expired: list[tuple[str, str, Any, datetime]] = []
    for chunk in _chunks(keys):
        stmt = (
            delete(pending_table)
            .where(tuple_(c.model, c.prediction_id).in_(list(chunk)))
            .returning(c.model, c.prediction_id, c.label, c.ts)
        )
        expired.extend((m, pid, label, ts) for m, pid, label, ts in session.execute(stmt))
    return expired


def purge_prediction_index(session: Session, older_than: datetime) -> int:
    """Delete prediction-index rows with an event time before ``older_than``."""
    result = session.execute(delete(index_table).where(index_table.c.ts < older_than))
    return max(0, int(getattr(result, "rowcount", 0)))


# --- dead letters and watermarks ---------------------------------------------------------


def add_dead_letters(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        session.execute(deadletters_table.insert(), list(rows))


def advance_watermarks(session: Session, max_ts: Mapping[str, datetime]) -> None:
    """Raise each model's ``max_event_ts`` to at least the given time (never lowers it)."""
    if not max_ts:
        return
    now = utc_now()
    stmt = dialect_insert(session, watermarks_table)
    greatest = func.greatest if _dialect(session) == "postgresql" else func.max
    stmt = stmt.on_conflict_do_update(
        index_elements=["model"],
        set_={
            "max_event_ts": greatest(watermarks_table.c.max_event_ts, stmt.excluded.max_event_ts),
            "updated_at": stmt.excluded.updated_at,
        },
    )
    session.execute(
        stmt,
        [{"model": m, "max_event_ts": ts, "updated_at": now} for m, ts in sorted(max_ts.items())],
    )


def read_watermarks(session: Session) -> dict[str, datetime]:
    c = watermarks_table.c
    return {m: ts for m, ts in session.execute(select(c.model, c.max_event_ts))}


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
