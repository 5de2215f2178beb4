"""Prediction-index storage: bytes per prediction, old layout vs new, and the cost of retention.

In a throwaway database (created from ``--dsn``, dropped at the end): the schema at head
(``infersight.storage.db.upgrade``: the compact, daily-partitioned index) and, beside it, a
table of the old layout (revision 0006: model and prediction id strings, version, window
start, ts, ``jsonb`` prediction, label, labelled_at; primary key and ``ts`` index). Both get
the same ``--rows`` predictions (one model, UUID prediction ids, a float score, 1-hour
windows) spread evenly over ``--days`` days ending now, inserted in time order in chunks as
the worker writes them (so the key B-trees fill as they do in service). Printed:

- bytes per prediction, heap + indexes (``pg_total_relation_size``, summed over the
  partitions for the new layout, ``index_windows`` included): the old table; the new one as
  inserted; the new one after the worker's housekeeping compacted the closed days' indexes;
- the time to apply one day of retention: the old ``DELETE`` of the oldest day's rows vs
  dropping its partition (``storage.partitions.maintain``).

Run: ``.venv/bin/python bench/storage.py [--rows 10000000] [--days 10] [--dsn postgresql://…]``.
Needs a Postgres (15+) reachable at ``--dsn`` with the right to create databases. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infersight.storage import partitions  # noqa: E402
from infersight.storage.db import make_engine, session_factory, upgrade  # noqa: E402
from infersight.storage.index_codec import KEY_HASH_SQL  # noqa: E402

CHUNK = 250_000
OLD = "old_prediction_index"
OLD_DDL = (
    f"CREATE TABLE {OLD} (model varchar(255) NOT NULL, prediction_id varchar(255) NOT NULL, "
    "version varchar(255) NOT NULL, window_start timestamptz NOT NULL, ts timestamptz NOT NULL, "
    "prediction jsonb NOT NULL, label jsonb, labelled_at timestamptz, "
    f"CONSTRAINT pk_{OLD} PRIMARY KEY (model, prediction_id)); "
    f"CREATE INDEX ix_{OLD}_ts ON {OLD} (ts)"
)
ID = "md5(g::text)::uuid::text"
"""The same UUID-like prediction id for row ``g`` in both layouts."""


def _fill(conn: psycopg.Connection, rows: int, start: datetime, step_s: float) -> tuple[float, float]:
    """Insert the rows into both layouts, chunk by chunk in time order; the seconds each took."""
    t = f"(%(start)s::timestamptz + (g * {step_s}) * interval '1 second')"
    old_s = new_s = 0.0
    for lo in range(0, rows, CHUNK):
        bounds = {"start": start, "lo": lo, "hi": min(rows, lo + CHUNK) - 1}
        began = time.perf_counter()
        conn.execute(
            f"INSERT INTO {OLD} SELECT 'fraud', {ID}, '3', date_trunc('hour', {t}), {t}, "
            "to_jsonb(random()), NULL, NULL FROM generate_series(%(lo)s, %(hi)s) g", bounds)
        conn.commit()
        middle = time.perf_counter()
        conn.execute(
            "INSERT INTO prediction_index (key_hash, ts, window_id, score) "
            f"SELECT {KEY_HASH_SQL.format(model=repr('fraud'), prediction_id=ID)}, {t}, "
            "w.id, random() FROM generate_series(%(lo)s, %(hi)s) g "
            f"JOIN index_windows w ON w.window_start = date_trunc('hour', {t})", bounds)
        conn.commit()
        old_s += middle - began
        new_s += time.perf_counter() - middle
    return old_s, new_s


def _sizes(conn: psycopg.Connection) -> tuple[int, int]:
    old = conn.execute(f"SELECT pg_total_relation_size('{OLD}')").fetchone()
    new = conn.execute(
        "SELECT sum(pg_total_relation_size(i.inhrelid)) + "
        "pg_total_relation_size('index_windows') FROM pg_inherits i "
        "WHERE i.inhparent = 'prediction_index'::regclass").fetchone()
    assert old is not None and new is not None
    return int(old[0]), int(new[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"infersight_bench_storage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{args.dsn.rsplit('/', 1)[0]}/{name}"
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    now = datetime.now(UTC)
    first_day = (now - timedelta(days=args.days - 1)).date()
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    step_s = (now - start).total_seconds() / args.rows
    engine = make_engine(url)
    try:
        upgrade(url)
        with session_factory(engine)() as session, session.begin():
            partitions.maintain(session, now, None, first_day=first_day)
        with psycopg.connect(dsn) as conn:
            conn.execute(OLD_DDL)
            conn.execute(
                "INSERT INTO index_windows (model, version, window_start) SELECT 'fraud', '3', h "
                "FROM generate_series(%(start)s::timestamptz, %(now)s, interval '1 hour') h",
                {"start": start, "now": now})
            conn.commit()
            print(f"{args.rows:,} predictions over {args.days} days, chunks of {CHUNK:,}")
            old_s, new_s = _fill(conn, args.rows, start, step_s)
            conn.execute("ANALYZE")
            conn.commit()
            old_bytes, live_bytes = _sizes(conn)
            print(f"  insert: old {args.rows / old_s:,.0f} rows/s, new {args.rows / new_s:,.0f} rows/s")
            print(f"  old layout         {old_bytes / args.rows:6.1f} bytes/prediction "
                  f"({old_bytes / 2**20:,.0f} MiB)")
            print(f"  new, as inserted   {live_bytes / args.rows:6.1f} bytes/prediction "
                  f"({live_bytes / 2**20:,.0f} MiB)")
            began = time.perf_counter()
            with session_factory(engine)() as session:
                closed = partitions.uncompacted(session, now)
            for index in closed:
                partitions.compact(engine, index)
            compact_s = time.perf_counter() - began
            _, compact_bytes = _sizes(conn)
            print(f"  new, compacted     {compact_bytes / args.rows:6.1f} bytes/prediction "
                  f"({compact_bytes / 2**20:,.0f} MiB; {len(closed)} closed days rebuilt in "
                  f"{compact_s:.1f} s)")
            day_end = start + timedelta(days=1)
            began = time.perf_counter()
            deleted = conn.execute(f"DELETE FROM {OLD} WHERE ts < %(cutoff)s",
                                   {"cutoff": day_end}).rowcount
            conn.commit()
            delete_s = time.perf_counter() - began
        began = time.perf_counter()
        with session_factory(engine)() as session, session.begin():
            done = partitions.maintain(session, now, day_end)
        drop_s = time.perf_counter() - began
        print(f"  one day of retention: old DELETE of {deleted:,} rows {delete_s * 1000:,.0f} ms "
              f"(plus the vacuum it leaves); new DROP of {len(done.dropped)} partition "
              f"({done.dropped_rows:,} rows) {drop_s * 1000:,.0f} ms")
    finally:
        engine.dispose()
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
