"""``window_states``, ``health_states`` and ``metric_points`` range-partitioned by
``window_start`` on Postgres: one partition a day plus a default one; keys and indexes stay
on the parent (``metric_points``' primary key becomes ``(id, window_start)``, a key of a
partitioned table must hold its partition column). Existing rows are moved. SQLite keeps
single tables: nothing changes there.

Self-contained (no import of the current models): this describes the schema as it was at
this revision.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("window_states", "health_states", "metric_points")


def _definitions(table: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """The table's key and unique constraints ``(name, type, column list)`` and the
    ``CREATE INDEX`` statements of its other indexes."""
    bind = op.get_bind()
    constraints = [(name, kind, columns) for name, kind, columns in bind.execute(sa.text(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('p', 'u') ORDER BY conname"),
        {"t": table})]
    owned = {name for name, _k, _c in constraints}
    indexes = [definition for name, definition in bind.execute(sa.text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t ORDER BY indexname"),
        {"t": table}) if name not in owned]
    return constraints, indexes


def _rename_old(table: str, constraints: list[tuple[str, str, str]], indexes: list[str],
                old: str) -> None:
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    for name, _kind, _columns in constraints:
        op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {name} TO {name}_old")
    for definition in indexes:
        name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")


def _move_sequences(old: str, new: str) -> None:
    bind = op.get_bind()
    for column, sequence in bind.execute(sa.text(
            "SELECT a.attname, pg_get_serial_sequence(:t, a.attname) FROM pg_attribute a "
            "WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"),
            {"t": old}):
        if sequence:
            op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {new}.{column}")


def _days(table: str, column: str) -> set[date]:
    today = datetime.now(UTC).date()
    found = op.get_bind().execute(sa.text(
        f"SELECT DISTINCT ({column} AT TIME ZONE 'UTC')::date FROM {table} "
        f"WHERE {column} >= :recent"), {"recent": today - timedelta(days=60)}).scalars()
    return {*found, *(today + timedelta(days=d) for d in range(-1, 3))}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        constraints, indexes = _definitions(table)
        old = f"{table}_unpartitioned"
        _rename_old(table, constraints, indexes, old)
        op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) "
                   "PARTITION BY RANGE (window_start)")
        _move_sequences(old, table)
        for name, kind, columns in constraints:
            if kind == "p" and "window_start" not in columns:
                columns = columns.replace(")", ", window_start)", 1)
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {columns}")
        for definition in indexes:
            op.execute(definition.replace(f" ON public.{table} ", f" ON {table} "))
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        for day in sorted(_days(old, "window_start")):
            lo = datetime.combine(day, time(), tzinfo=UTC)
            op.execute(f"CREATE TABLE {table}_p{day:%Y%m%d} PARTITION OF {table} FOR VALUES "
                       f"FROM ('{lo.isoformat()}') TO ('{(lo + timedelta(days=1)).isoformat()}')")
        op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
        op.execute(f"DROP TABLE {old}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        constraints, indexes = _definitions(table)
        old = f"{table}_partitioned"
        _rename_old(table, constraints, indexes, old)
        op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS)")
        _move_sequences(old, table)
        for name, kind, columns in constraints:
            if kind == "p" and table == "metric_points":
                columns = "PRIMARY KEY (id)"
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {columns}")
        for definition in indexes:
            op.execute(definition.replace(f" ON ONLY public.{table} ", f" ON {table} ")
                       .replace(f" ON public.{table} ", f" ON {table} "))
        op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
        op.execute(f"DROP TABLE {old}")
