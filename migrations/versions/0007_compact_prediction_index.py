"""The compact prediction index: the 64-bit hash of (model, prediction_id), the event time,
the window as a small id (``index_windows``: model, version, window start), a float
prediction as float 32 or any other as MessagePack, the label as MessagePack; held events
move to ``held_predictions``. On Postgres the index is range-partitioned by event time, one
partition a day plus a default one, each with its own unique index on the hash. Existing
rows are moved (hashed and re-encoded here, in batches).

Downgrade recreates the old, empty table: prediction ids cannot be recovered from hashes.

Self-contained (no import of the current models): this describes the schema as it was at
this revision.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOOTSTRAP_KEY = "infersight_bootstrap_event"
HELD = b"\xc1"
_BATCH = 10_000
_encode = msgspec.msgpack.Encoder().encode


def _name() -> sa.String:
    return sa.String(length=255)


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _key_hash(model: str, prediction_id: str) -> int:
    digest = hashlib.sha256(model.encode() + b"\x00" + prediction_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _prediction(value: Any) -> tuple[float | None, bytes | None]:
    if type(value) is float and abs(value) <= 3.4e38:
        return float(struct.unpack(">f", struct.pack(">f", value))[0]), None
    return None, _encode(value)


def _create_side_tables() -> None:
    op.create_table(
        "index_windows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("window_start", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_windows")),
        sa.UniqueConstraint("model", "version", "window_start",
                            name=op.f("uq_index_windows_model_version_window_start")),
    )
    op.create_table(
        "held_predictions",
        sa.Column("model", _name(), nullable=False),
        sa.Column("prediction_id", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("window_start", _ts(), nullable=False),
        sa.Column("ts", _ts(), nullable=False),
        sa.Column("key_hash", sa.BigInteger(), nullable=False),
        sa.Column("event", _json(), nullable=False),
        sa.PrimaryKeyConstraint("model", "prediction_id", name=op.f("pk_held_predictions")),
    )
    op.create_index(op.f("ix_held_predictions_model_version_window_start"),
                    "held_predictions", ["model", "version", "window_start"])


def _create_partitioned(days: set[date]) -> None:
    op.execute(
        "CREATE TABLE prediction_index (key_hash bigint NOT NULL, ts timestamptz NOT NULL, "
        "window_id integer NOT NULL, score real, value bytea, label bytea) "
        "PARTITION BY RANGE (ts)"
    )
    op.execute("CREATE TABLE prediction_index_default PARTITION OF prediction_index DEFAULT")
    op.execute("CREATE UNIQUE INDEX prediction_index_default_key_hash "
               "ON prediction_index_default (key_hash)")
    for day in sorted(days):
        name = f"prediction_index_p{day:%Y%m%d}"
        lo = datetime.combine(day, time(), tzinfo=UTC)
        op.execute(
            f"CREATE TABLE {name} PARTITION OF prediction_index FOR VALUES FROM "
            f"('{lo.isoformat()}') TO ('{(lo + timedelta(days=1)).isoformat()}')"
        )
        op.execute(f"CREATE UNIQUE INDEX {name}_key_hash ON {name} (key_hash)")


def _create_single() -> None:
    op.create_table(
        "prediction_index",
        sa.Column("key_hash", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=False, nullable=False),
        sa.Column("ts", _ts(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.REAL(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=True),
        sa.Column("label", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_prediction_index")),
    )


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.drop_index(op.f("ix_prediction_index_ts"), table_name="prediction_index")
    op.rename_table("prediction_index", "prediction_index_0006")
    if postgres:
        op.execute("ALTER TABLE prediction_index_0006 RENAME CONSTRAINT pk_prediction_index "
                   "TO pk_prediction_index_0006")
    _create_side_tables()
    old = sa.table("prediction_index_0006", *(sa.column(c) for c in (
        "model", "prediction_id", "version", "window_start", "ts", "prediction", "label",
        "labelled_at")))
    old.c.window_start.type = _ts()
    old.c.ts.type = _ts()
    old.c.labelled_at.type = _ts()
    old.c.prediction.type = _json()
    old.c.label.type = _json()
    today = datetime.now(UTC).date()
    if postgres:
        recent = today - timedelta(days=60)
        days = bind.execute(sa.text(
            "SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM prediction_index_0006 "
            "WHERE ts >= :recent"), {"recent": recent}).scalars()
        _create_partitioned({*days, *(today + timedelta(days=d) for d in range(-1, 3))})
    else:
        _create_single()
    bind.execute(sa.text(
        "INSERT INTO index_windows (model, version, window_start) SELECT DISTINCT model, "
        "version, window_start FROM prediction_index_0006 ORDER BY model, version, window_start"))
    windows = {(m, v, _utc(start)): i for i, m, v, start in bind.execute(sa.text(
        "SELECT id, model, version, window_start FROM index_windows"
    ).columns(sa.column("id"), sa.column("model"), sa.column("version"),
              sa.column("window_start", _ts())))}
    _move_rows(bind, old, windows)
    op.drop_table("prediction_index_0006")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _move_rows(bind: sa.Connection, old: Any, windows: dict[tuple[str, str, datetime], int]
               ) -> None:
    c = old.c
    query = sa.select(c.model, c.prediction_id, c.version, c.window_start, c.ts, c.prediction,
                      c.label, c.labelled_at).order_by(c.model, c.prediction_id)
    insert_index = sa.text(
        "INSERT INTO prediction_index (key_hash, ts, window_id, score, value, label) "
        "VALUES (:h, :ts, :w, :s, :v, :l)"
    ).bindparams(sa.bindparam("ts", type_=_ts()), sa.bindparam("v", type_=sa.LargeBinary()),
                 sa.bindparam("l", type_=sa.LargeBinary()))
    insert_held = sa.text("INSERT INTO held_predictions (model, prediction_id, version, "
                          "window_start, ts, key_hash, event) VALUES (:m, :pid, :v, :w, :ts, "
                          ":h, :e)").bindparams(
        sa.bindparam("w", type_=_ts()), sa.bindparam("ts", type_=_ts()),
        sa.bindparam("e", type_=_json()))
    after: tuple[str, str] | None = None
    while True:
        page = query.limit(_BATCH)
        if after is not None:
            page = page.where(sa.tuple_(c.model, c.prediction_id) > after)
        rows = bind.execute(page).all()
        if not rows:
            return
        after = (rows[-1][0], rows[-1][1])
        index_rows, held_rows = [], []
        for model, pid, version, start, ts, stored, label, labelled_at in rows:
            h = _key_hash(model, pid)
            held = isinstance(stored, dict) and BOOTSTRAP_KEY in stored
            score, value = (None, HELD) if held else _prediction(stored)
            index_rows.append({"h": h, "ts": ts, "w": windows[(model, version, _utc(start))],
                               "s": score, "v": value,
                               "l": None if labelled_at is None else _encode(label)})
            if held:
                held_rows.append({"m": model, "pid": pid, "v": version, "w": start, "ts": ts,
                                  "h": h, "e": stored})
        bind.execute(insert_index, index_rows)
        if held_rows:
            bind.execute(insert_held, held_rows)


def downgrade() -> None:
    op.drop_table("prediction_index")
    op.drop_index(op.f("ix_held_predictions_model_version_window_start"),
                  table_name="held_predictions")
    op.drop_table("held_predictions")
    op.drop_table("index_windows")
    op.create_table(
        "prediction_index",
        sa.Column("model", _name(), nullable=False),
        sa.Column("prediction_id", _name(), nullable=False),
        sa.Column("version", _name(), nullable=False),
        sa.Column("window_start", _ts(), nullable=False),
        sa.Column("ts", _ts(), nullable=False),
        sa.Column("prediction", _json(), nullable=False),
        sa.Column("label", _json(), nullable=True),
        sa.Column("labelled_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("model", "prediction_id", name=op.f("pk_prediction_index")),
    )
    op.create_index(op.f("ix_prediction_index_ts"), "prediction_index", ["ts"])
