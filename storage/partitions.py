"""Daily range partitions of the time-keyed tables on Postgres.

``prediction_index`` is partitioned by ``ts`` (the prediction's event time), and
``window_states``, ``health_states`` and ``metric_points`` by ``window_start``: one partition
per UTC day (``prediction_index_p20261203``) and a default partition for times outside them
(far-future or very late rows). The prediction index's partitions have their own unique
index on ``key_hash`` (so a prediction is recognised as a duplicate within the day of its
event time: a re-delivered event has the same time, hence the same partition); the other
tables keep their keys and indexes on the parent, which includes ``window_start``.

:func:`maintain` creates partitions ahead (``infersight db upgrade`` and every worker's
housekeeping), drops those wholly before the retention cutoff (a ``DROP TABLE``, no
``DELETE``) and deletes expired rows of the default partition. A new partition takes over
the default partition's rows of its day. :func:`compact` rebuilds a closed day's
prediction-index unique index once, full (random hashes leave a B-tree about 70 % full).
SQLite keeps single tables; nothing here applies.

>>> partition_name(date(2026, 12, 3))
'prediction_index_p20261203'
>>> day_of("window_states_p20261203", WINDOW_STATES)
datetime.date(2026, 12, 3)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

AHEAD_DAYS = 2
"""Partitions kept ready after today's."""
_LOCK_KEY = 0x1D5E_0007
"""Transaction advisory lock that serialises partition maintenance across workers."""


@dataclass(frozen=True, slots=True)
class Partitioned:
    """A table partitioned by day on ``column``."""

    table: str
    column: str
    key_hash_index: bool = False
    """Each partition has its own unique index on ``key_hash`` (the prediction index)."""
    lock: int = 0

    @property
    def default(self) -> str:
        return f"{self.table}_default"


PREDICTIONS = Partitioned("prediction_index", "ts", key_hash_index=True)
WINDOW_STATES = Partitioned("window_states", "window_start", lock=1)
HEALTH_STATES = Partitioned("health_states", "window_start", lock=2)
METRIC_POINTS = Partitioned("metric_points", "window_start", lock=3)
TABLES = (PREDICTIONS, WINDOW_STATES, HEALTH_STATES, METRIC_POINTS)

PARENT = PREDICTIONS.table
DEFAULT = PREDICTIONS.default


def partition_name(day: date, spec: Partitioned = PREDICTIONS) -> str:
    """The name of the partition of ``day`` (UTC)."""
    return f"{spec.table}_p{day:%Y%m%d}"


def day_of(name: str, spec: Partitioned = PREDICTIONS) -> date | None:
    """The day of a partition's name, None for any other table."""
    match = re.match(rf"^{spec.table}_p(\d{{8}})$", name)
    return datetime.strptime(match.group(1), "%Y%m%d").date() if match else None


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def is_partitioned(session: Session) -> bool:
    """Whether the session's database keeps these tables in partitions (Postgres)."""
    return session.get_bind().dialect.name == "postgresql"


def partition_days(session: Session, spec: Partitioned = PREDICTIONS) -> list[date]:
    """Days that have a partition, oldest first."""
    rows = session.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:parent AS regclass)"), {"parent": spec.table})
    return sorted(day for (name,) in rows if (day := day_of(name, spec)) is not None)


def create_partition(session: Session, day: date, spec: Partitioned = PREDICTIONS) -> None:
    """Create ``day``'s partition (with its unique index on ``key_hash`` for the prediction
    index), moving in the default partition's rows of that day, then attach it (the parent's
    keys and indexes are built on it)."""
    name, lo, hi = partition_name(day, spec), _start(day), _start(day + timedelta(days=1))
    col = spec.column
    session.execute(text(f"CREATE TABLE {name} (LIKE {spec.table} INCLUDING DEFAULTS)"))
    session.execute(text(
        f"WITH moved AS (DELETE FROM {spec.default} WHERE {col} >= :lo AND {col} < :hi "
        f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"), {"lo": lo, "hi": hi})
    if spec.key_hash_index:
        session.execute(text(f"CREATE UNIQUE INDEX {name}_key_hash ON {name} (key_hash)"))
    session.execute(text(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK ({col} >= "
        f"'{lo.isoformat()}' AND {col} < '{hi.isoformat()}')"))
    session.execute(text(
        f"ALTER TABLE {spec.table} ATTACH PARTITION {name} FOR VALUES FROM "
        f"('{lo.isoformat()}') TO ('{hi.isoformat()}')"))
    session.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range"))


@dataclass(slots=True)
class Maintenance:
    """What :func:`maintain` did."""

    created: list[date] = field(default_factory=list)
    dropped: list[date] = field(default_factory=list)
    dropped_rows: int = 0
    """Rows of the dropped partitions (the planner's estimate) and of the default partition."""


def maintain(
    session: Session, now: datetime, cutoff: datetime | None, first_day: date | None = None,
    spec: Partitioned = PREDICTIONS,
) -> Maintenance:
    """Create the partitions from ``first_day`` (default: yesterday) to ``AHEAD_DAYS`` after
    today, drop those whose rows are all before ``cutoff`` and delete the default
    partition's rows before it (``cutoff`` None: drop nothing). Serialised across workers by
    an advisory lock; waits at most 5 s for the table locks."""
    done = Maintenance()
    session.execute(text("SET LOCAL lock_timeout = '5s'"))
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _LOCK_KEY + 16 + spec.lock})
    existing = set(partition_days(session, spec))
    today = now.astimezone(UTC).date()
    day = first_day or today - timedelta(days=1)
    while day <= today + timedelta(days=AHEAD_DAYS):
        if day not in existing and (cutoff is None or _start(day + timedelta(days=1)) > cutoff):
            create_partition(session, day, spec)
            done.created.append(day)
        day += timedelta(days=1)
    if cutoff is None:
        return done
    for old in sorted(existing):
        if _start(old + timedelta(days=1)) > cutoff:
            break
        name = partition_name(old, spec)
        estimate = session.execute(text(
            "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = CAST(:t AS regclass)"),
            {"t": name}).scalar_one()
        session.execute(text(f"DROP TABLE {name}"))
        done.dropped.append(old)
        done.dropped_rows += int(estimate)
    deleted = session.execute(text(f"DELETE FROM {spec.default} WHERE {spec.column} < :cutoff"),
                              {"cutoff": cutoff})
    done.dropped_rows += int(deleted.rowcount)  # type: ignore[attr-defined]
    return done


def uncompacted(session: Session, now: datetime) -> list[str]:
    """Unique indexes of partitions whose day ended over an hour before ``now`` that were
    not rebuilt yet (their fill factor is not 100)."""
    closed = now.astimezone(UTC) - timedelta(hours=1)
    names = [partition_name(day) for day in partition_days(session)
             if _start(day + timedelta(days=1)) <= closed]
    if not names:
        return []
    rows = session.execute(text(
        "SELECT c.relname FROM pg_class c WHERE c.relname = ANY(CAST(:names AS text[])) "
        "AND NOT coalesce(c.reloptions @> ARRAY['fillfactor=100'], false)"),
        {"names": [f"{name}_key_hash" for name in names]})
    return sorted(name for (name,) in rows)


def compact(engine: Engine, index: str) -> None:
    """Rebuild a closed partition's unique index full (``REINDEX … CONCURRENTLY``: reads
    and writes go on): random key hashes leave a B-tree about 70 % full, a rebuilt one 100 %.
    Drops what an interrupted rebuild left first."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                  {"key": _LOCK_KEY + 1}).scalar_one():
            return  # another worker is compacting
        leftover = connection.execute(text(
            "SELECT relname FROM pg_class WHERE relname LIKE :pattern"),
            {"pattern": f"{index}_ccnew%"}).scalars().all()
        for name in leftover:
            connection.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))
        connection.execute(text(f"ALTER INDEX {index} SET (fillfactor = 100)"))
        try:
            connection.execute(text(f"REINDEX INDEX CONCURRENTLY {index}"))
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY + 1})
