"""Window rollups: pre-merged window states of epoch-aligned buckets (10 min … 7 days).

A rollup is a cache. Its row remembers the *signature* of the window-state rows it was
merged from — how many rows had ``window_start`` in the bucket and their latest
``updated_at`` — so a reader can tell at once whether it is still exact: a late event
rewrites a window-state row (newer ``updated_at``), a new partition adds a row, retention
removes rows; each changes the signature. A stale rollup is never used; the reader falls
back to smaller buckets or to the window states themselves.

>>> bucket_of(datetime(2026, 1, 1, 12, 34, tzinfo=UTC), 3600).isoformat()
'2026-01-01T12:00:00+00:00'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infersight.storage.models import NAME, Base, WindowState
from infersight.storage.types import UtcDateTime, utc_now
from infersight.storage.upsert import upsert
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    LargeBinary,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class WindowRollup(Base):
    """The merged state of every window (all partitions) whose start lies in one bucket."""

    __tablename__ = "window_rollups"

    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    version: Mapped[str] = mapped_column(NAME, primary_key=True)
    bucket_seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    event_count: Mapped[int] = mapped_column(BigInteger, default=0)
    source_rows: Mapped[int] = mapped_column(Integer)
    """Window-state rows merged into this rollup."""
    source_updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """The latest ``updated_at`` among them."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


def bucket_of(ts: datetime, seconds: int) -> datetime:
    """Start of the epoch-aligned bucket of ``seconds`` holding ``ts``."""
    offset = int((ts - _EPOCH).total_seconds() // seconds) * seconds
    return _EPOCH + timedelta(seconds=offset)


@dataclass(frozen=True, slots=True)
class Signature:
    """What a bucket's window-state rows look like now: row count and latest update."""

    rows: int
    updated_at: datetime

    def combine(self, other: Signature) -> Signature:
        return Signature(self.rows + other.rows, max(self.updated_at, other.updated_at))


@dataclass(frozen=True, slots=True)
class RollupRecord:
    """A stored rollup (``state`` may be empty when only the metadata was loaded)."""

    version: str
    bucket_seconds: int
    bucket_start: datetime
    signature: Signature
    event_count: int
    state: bytes = b""


def _bucket_number(session: Session, seconds: int) -> ColumnElement[Any]:
    """The bucket of ``window_start``: its start (Postgres 14+, ``date_bin``) or
    ``floor(epoch(window_start) / seconds)``."""
    column = WindowState.window_start
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        if (dialect.server_version_info or (0,)) >= (14,):
            # date_bin works on the timestamp's integer microseconds: faster than numeric
            # arithmetic on extract(epoch ...), which dominates this query otherwise.
            return func.date_bin(text(f"interval '{int(seconds)} seconds'"), column,
                                 text("timestamptz '1970-01-01 00:00:00+00'"))
        return cast(func.floor(func.extract("epoch", column) / seconds), BigInteger)
    # SQLite keeps UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]'; ``//`` is integer (floor) division.
    return cast(func.strftime("%s", column), Integer) // seconds


def execute_rows(session: Session, statement: Any) -> list[tuple[Any, ...]]:
    """Run a SELECT; on Postgres with psycopg's binary result format, which moves ``bytea``
    blobs (window states) as raw bytes instead of hex text: about half the read time.

    Values come back as the driver gives them (aware datetimes, bytes); SQLAlchemy's
    result processing is skipped, so use it for plain columns only.
    """
    if session.get_bind().dialect.name != "postgresql":
        return [tuple(row) for row in session.execute(statement)]
    compiled = statement.compile(dialect=session.get_bind().dialect,
                                 compile_kwargs={"render_postcompile": True})
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor(binary=True) as cursor:
        cursor.execute(str(compiled), compiled.params)
        return [tuple(row) for row in cursor.fetchall()]


def window_signatures(
    session: Session,
    model: str,
    bucket_seconds: int,
    start: datetime,
    end: datetime,
    version: str | None = None,
) -> dict[tuple[str, datetime], Signature]:
    """``{(version, bucket_start): Signature}`` of the window states in ``[start, end)``."""
    bucket = _bucket_number(session, bucket_seconds).label("bucket")
    query: Any = (
        select(
            WindowState.version,
            bucket,
            func.count(),
            func.max(WindowState.updated_at),
        )
        .where(
            WindowState.model == model,
            WindowState.window_start >= start,
            WindowState.window_start < end,
        )
        .group_by(WindowState.version, bucket)
    )
    if version is not None:
        query = query.where(WindowState.version == version)
    out: dict[tuple[str, datetime], Signature] = {}
    step = timedelta(seconds=bucket_seconds)
    for row_version, number, rows, updated in execute_rows(session, query):
        key = (row_version, _utc(number) if isinstance(number, datetime)
               else _EPOCH + int(number) * step)
        signature = Signature(int(rows), _utc(updated))
        found = out.get(key)
        out[key] = signature if found is None else found.combine(signature)
    return out


@dataclass(frozen=True, slots=True)
class BucketSignature:
    """One bucket's :class:`Signature` with its level and the first and last
    ``window_start`` in it (see :func:`split_window_signatures`)."""

    version: str
    seconds: int
    bucket: datetime
    signature: Signature
    first: datetime
    last: datetime


def split_window_signatures(
    session: Session,
    model: str,
    start: datetime,
    end: datetime,
    fine_seconds: int,
    coarse_seconds: int,
    coarse_start: datetime,
    coarse_end: datetime,
    version: str | None = None,
) -> list[BucketSignature]:
    """Signatures of the window states in ``[start, end)`` in one query: by buckets of
    ``coarse_seconds`` inside ``[coarse_start, coarse_end)`` (bucket-aligned), by buckets
    of ``fine_seconds`` elsewhere — far fewer groups than :func:`window_signatures` for a
    long range, whose middle is read through coarse rollups."""
    inside = and_(WindowState.window_start >= coarse_start, WindowState.window_start < coarse_end)
    level = case((inside, literal(coarse_seconds)), else_=literal(fine_seconds)).label("level")
    bucket = case((inside, _bucket_number(session, coarse_seconds)),
                  else_=_bucket_number(session, fine_seconds)).label("bucket")
    query: Any = (
        select(WindowState.version, level, bucket, func.count(), func.max(WindowState.updated_at),
               func.min(WindowState.window_start), func.max(WindowState.window_start))
        .where(
            WindowState.model == model,
            WindowState.window_start >= start,
            WindowState.window_start < end,
        )
        .group_by(WindowState.version, level, bucket)
    )
    if version is not None:
        query = query.where(WindowState.version == version)
    out = []
    for row_version, seconds, number, rows, updated, first, last in execute_rows(session, query):
        seconds = int(seconds)
        out.append(BucketSignature(
            row_version, seconds,
            _utc(number) if isinstance(number, datetime)
            else _EPOCH + timedelta(seconds=int(number) * seconds),
            Signature(int(rows), _utc(updated)), _utc(first), _utc(last)))
    return out


def _utc(ts: datetime | str) -> datetime:
    """``ts`` in UTC (naive or ISO text, as SQLite aggregates give it, taken as UTC)."""
    if isinstance(ts, str):  # SQLite aggregates lose the column type
        ts = datetime.fromisoformat(ts)
    zone = ts.tzinfo
    if zone is UTC:
        return ts
    if zone is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def load_rollups(
    session: Session,
    model: str,
    start: datetime,
    end: datetime,
    *,
    version: str | None = None,
    with_state: bool = False,
    keys: Iterable[tuple[str, int, datetime]] | None = None,
) -> list[RollupRecord]:
    """Rollups of ``model`` whose bucket starts in ``[start, end)`` (optionally only ``keys``:
    ``(version, bucket_seconds, bucket_start)``)."""
    columns = [
        WindowRollup.version,
        WindowRollup.bucket_seconds,
        WindowRollup.bucket_start,
        WindowRollup.source_rows,
        WindowRollup.source_updated_at,
        WindowRollup.event_count,
    ]
    if with_state:
        columns.append(WindowRollup.state)
    query = select(*columns).where(
        WindowRollup.model == model,
        WindowRollup.bucket_start >= start,
        WindowRollup.bucket_start < end,
    )
    if version is not None:
        query = query.where(WindowRollup.version == version)
    wanted = set(keys) if keys is not None else None
    if wanted is not None:
        starts = sorted({k[2] for k in wanted})
        if not starts:
            return []
        query = query.where(WindowRollup.bucket_start.in_(starts))
    records = []
    rows = execute_rows(session, query) if with_state else session.execute(query)
    for row in rows:
        key = (row[0], int(row[1]), row[2])
        if wanted is not None and key not in wanted:
            continue
        records.append(
            RollupRecord(
                version=row[0],
                bucket_seconds=int(row[1]),
                bucket_start=row[2],
                signature=Signature(int(row[3]), row[4]),
                event_count=int(row[5]),
                state=bytes(row[6]) if with_state else b"",
            )
        )
    return records


def upsert_rollups(session: Session, model: str, records: Sequence[RollupRecord]) -> int:
    """Store rollups (an existing bucket's rollup is replaced)."""
    now = utc_now()
    rows = [
        {
            "model": model,
            "version": r.version,
            "bucket_seconds": r.bucket_seconds,
            "bucket_start": r.bucket_start,
            "state": r.state,
            "event_count": r.event_count,
            "source_rows": r.signature.rows,
            "source_updated_at": r.signature.updated_at,
            "updated_at": now,
        }
        for r in records
    ]
    return int(upsert(
        session,
        WindowRollup,
        rows,
        conflict=("model", "version", "bucket_seconds", "bucket_start"),
        update=("state", "event_count", "source_rows", "source_updated_at", "updated_at"),
    ))
