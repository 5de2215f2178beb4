"""The compact prediction index: daily partitions on Postgres (created ahead, taking over the
default partition's rows, dropped whole by retention, compacted), one table on SQLite, and
migration 0007 moving the rows of the old layout."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from infersight.storage import partitions
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.held import BOOTSTRAP_KEY, held_summary, lock_held
from infersight.storage.labels import insert_predictions, lookup_predictions, mark_labelled
from infersight.storage.retention import purge_prediction_index
from infersight.storage.types import utc_now
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from tests.support.postgres import temporary_database

OLD_DAY = date(2003, 3, 10)
"""Before every other test's timestamps: this module's partitions touch no one else's rows."""


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _row(model: str, pid: str, ts: datetime, prediction: Any = 0.8312) -> dict[str, Any]:
    return {"model": model, "prediction_id": pid, "version": "1",
            "window_start": ts.replace(minute=0, second=0), "ts": ts, "prediction": prediction}


def _table_of(session: Session, model: str, pid: str) -> str:
    from infersight.storage.index_codec import key_hash

    return str(session.execute(text(
        "SELECT tableoid::regclass::text FROM prediction_index WHERE key_hash = :h"),
        {"h": key_hash(model, pid)}).scalar_one())


ON_POSTGRES = pytest.mark.parametrize("engine", ["postgres"], indirect=True)
"""Partitions are Postgres only; SQLite keeps one table."""


@pytest.fixture
def postgres(engine: Engine) -> Engine:
    assert engine.dialect.name == "postgresql"
    return engine


@ON_POSTGRES
def test_upgrade_creates_the_partitions_ahead(postgres: Engine, session: Session) -> None:
    today = utc_now().date()
    days = set(partitions.partition_days(session))
    assert {today + timedelta(days=d) for d in range(-1, partitions.AHEAD_DAYS + 1)} <= days


@ON_POSTGRES
def test_a_new_partition_takes_over_its_days_rows_from_the_default_partition(
    postgres: Engine, session: Session, unique_name: str
) -> None:
    day = OLD_DAY + timedelta(days=1)
    assert insert_predictions(session, [_row(unique_name, "a", _at(day))]) == {(unique_name, "a")}
    session.commit()
    assert _table_of(session, unique_name, "a") == partitions.DEFAULT
    partitions.create_partition(session, day)
    session.commit()
    assert _table_of(session, unique_name, "a") == partitions.partition_name(day)
    # still a duplicate after the move, still joinable
    assert insert_predictions(session, [_row(unique_name, "a", _at(day))]) == set()
    found = lookup_predictions(session, [(unique_name, "a")])[(unique_name, "a")]
    assert found.ts == _at(day) and found.prediction == pytest.approx(0.8312, rel=1e-7)
    session.execute(text(f"DROP TABLE {partitions.partition_name(day)}"))
    session.commit()


@ON_POSTGRES
def test_retention_drops_whole_partitions_and_keeps_the_rest_joinable(
    postgres: Engine, session: Session, unique_name: str
) -> None:
    old, kept = OLD_DAY, OLD_DAY + timedelta(days=2)
    for day in (old, kept):
        partitions.create_partition(session, day)
    insert_predictions(session, [_row(unique_name, f"{day}", _at(day)) for day in (old, kept)])
    session.commit()
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(postgres, "before_cursor_execute", record)
    try:
        purged = purge_prediction_index(session, _at(old + timedelta(days=1), hour=0))
        session.commit()
    finally:
        event.remove(postgres, "before_cursor_execute", record)
    assert f"DROP TABLE {partitions.partition_name(old)}" in seen
    assert not [s for s in seen if s.startswith("DELETE FROM prediction_index_p")]
    assert purged >= 0
    days = partitions.partition_days(session)
    assert old not in days and kept in days
    found = lookup_predictions(session, [(unique_name, f"{old}"), (unique_name, f"{kept}")])
    assert set(found) == {(unique_name, f"{kept}")}
    session.execute(text(f"DROP TABLE {partitions.partition_name(kept)}"))
    session.commit()


@ON_POSTGRES
def test_compaction_rebuilds_a_closed_days_index_once(
    postgres: Engine, session: Session, unique_name: str
) -> None:
    day = OLD_DAY + timedelta(days=4)
    partitions.create_partition(session, day)
    rows = [_row(unique_name, f"c{i}", _at(day) + timedelta(seconds=i)) for i in range(2000)]
    insert_predictions(session, rows)
    session.commit()
    index = f"{partitions.partition_name(day)}_key_hash"
    assert index in partitions.uncompacted(session, utc_now())
    session.rollback()  # a rebuild waits for the transactions that were open when it began
    partitions.compact(postgres, index)
    session.commit()
    assert index not in partitions.uncompacted(session, utc_now())
    assert len(lookup_predictions(session, [(unique_name, f"c{i}") for i in range(2000)])) == 2000
    session.execute(text(f"DROP TABLE {partitions.partition_name(day)}"))
    session.commit()


def test_the_index_stores_a_prediction_compactly_and_exactly_where_it_can(
    session: Session, unique_name: str
) -> None:
    ts = _at(OLD_DAY + timedelta(days=6))
    values = {"score": 0.8312, "class": "approve", "probs": {"a": 0.25, "b": 0.75}, "int": 3}
    insert_predictions(session, [_row(unique_name, k, ts, v) for k, v in values.items()])
    mark_labelled(session, [(unique_name, "score", 1.25), (unique_name, "class", None)], ts)
    session.commit()
    found = lookup_predictions(session, [(unique_name, k) for k in values])
    score = found[(unique_name, "score")]
    assert score.prediction != 0.8312 and score.prediction == pytest.approx(0.8312, rel=1e-7)
    assert (score.label, score.labelled) == (1.25, True)  # labels are exact
    assert found[(unique_name, "class")].labelled and found[(unique_name, "class")].label is None
    for key in ("class", "probs", "int"):
        assert found[(unique_name, key)].prediction == values[key]


# -- migration 0007 ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def at_0006(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
        upgrade(url, "0006")
        yield url
    else:
        with temporary_database("infersight_0007") as url:
            upgrade(url, "0006")
            yield url


def test_migration_0007_moves_the_old_rows_and_they_still_join(at_0006: str) -> None:
    now = utc_now().replace(microsecond=0)
    start = now.replace(minute=0, second=0)
    event_ = {"model": "fraud", "prediction_id": "h1", "version": "2", "ts": now.isoformat()}
    rows = [  # plain, labelled, held, and one older than any partition
        ("p1", "1", start, now, '{"label": 1, "score": 0.5}', None, None),
        ("p2", "1", start, now, "0.75", "1", now),
        ("h1", "2", start, now, f'{{"{BOOTSTRAP_KEY}": {_json(event_)}}}', None, None),
        ("p3", "1", _at(OLD_DAY), _at(OLD_DAY), '"deny"', None, None),
    ]
    engine = make_engine(at_0006)
    try:
        with engine.begin() as conn:
            for pid, version, ws, ts, prediction, label, at in rows:
                conn.execute(text(
                    "INSERT INTO prediction_index (model, prediction_id, version, window_start, "
                    "ts, prediction, label, labelled_at) VALUES ('fraud', :pid, :v, :ws, :ts, "
                    f"{_cast(engine, ':p')}, {_cast(engine, ':l')}, :at)"),
                    {"pid": pid, "v": version, "ws": _bind(engine, ws), "ts": _bind(engine, ts),
                     "p": prediction, "l": label, "at": None if at is None else _bind(engine, at)})
        upgrade(at_0006)
        with session_factory(engine)() as session:
            found = lookup_predictions(session, [("fraud", p) for p in ("p1", "p2", "h1", "p3")])
            assert found[("fraud", "p1")].prediction == {"label": 1, "score": 0.5}
            assert (found[("fraud", "p1")].version, found[("fraud", "p1")].window_start) == (
                "1", start)
            assert (found[("fraud", "p2")].prediction, found[("fraud", "p2")].label) == (0.75, 1)
            assert found[("fraud", "p2")].labelled and found[("fraud", "p2")].ts == now
            assert BOOTSTRAP_KEY in found[("fraud", "h1")].prediction
            assert found[("fraud", "p3")].prediction == "deny"
            assert held_summary(session, "fraud", "2") == (1, start)
            held = lock_held(session, "fraud", "2", 10)
            assert [(pid, stored[BOOTSTRAP_KEY]["prediction_id"]) for pid, _s, _t, stored, *_ in
                    held] == [("h1", "h1")]
            assert insert_predictions(session, [_row("fraud", "p1", now)]) == set()  # duplicate
    finally:
        engine.dispose()


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _cast(engine: Engine, param: str) -> str:
    return f"CAST({param} AS jsonb)" if engine.dialect.name == "postgresql" else param


def _bind(engine: Engine, value: datetime) -> Any:
    if engine.dialect.name == "postgresql":
        return value
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


# -- the window tables ---------------------------------------------------------------------


def _states(session: Session, model: str) -> set[datetime]:
    from infersight.storage.models import WindowState
    from sqlalchemy import select

    return set(session.scalars(select(WindowState.window_start).where(
        WindowState.model == model)))


def test_window_states_are_purged_by_their_retention(
    session: Session, engine: Engine, unique_name: str
) -> None:
    from infersight.storage.models import HealthState
    from infersight.storage.retention import purge_windows
    from infersight.storage.windows import WindowStateRecord, upsert_window_states

    old, kept = OLD_DAY + timedelta(days=8), OLD_DAY + timedelta(days=10)
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        partitions.create_partition(session, old, partitions.WINDOW_STATES)
    records = [WindowStateRecord(unique_name, "1", _at(day), _at(day, 13), "e/0", b"s", 3)
               for day in (old, kept)]
    upsert_window_states(session, records)
    upsert_window_states(session, records, HealthState)
    session.commit()
    assert _states(session, unique_name) == {_at(old), _at(kept)}
    purge_windows(session, partitions.WINDOW_STATES, _at(old + timedelta(days=1), hour=0))
    session.commit()
    assert _states(session, unique_name) == {_at(kept)}  # the kept day sits in the default
    if postgres:
        assert old not in partitions.partition_days(session, partitions.WINDOW_STATES)
        kinds = session.execute(text(
            "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
        )).scalars().all()
        assert {t.table for t in partitions.TABLES} <= set(kinds)
    upsert_window_states(session, records[1:])  # an upsert still replaces the row
    session.commit()
    assert _states(session, unique_name) == {_at(kept)}


def test_migration_0009_keeps_the_window_tables_rows(at_0006: str) -> None:
    start = utc_now().replace(minute=0, second=0, microsecond=0)
    engine = make_engine(at_0006)
    try:
        with engine.begin() as conn:
            params = {"ws": _bind(engine, start), "we": _bind(engine, start + timedelta(hours=1))}
            conn.execute(text(
                "INSERT INTO window_states (model, version, window_start, partition_key, "
                "window_end, state, event_count, updated_at) VALUES ('m', '1', :ws, 'e/0', :we, "
                ":state, 3, :ws)"), {**params, "state": b"s"})
            conn.execute(text(
                "INSERT INTO metric_points (model, version, window_start, window_end, feature, "
                "metric, value, sample_size, evaluated_at) VALUES ('m', '1', :ws, :we, '', "
                "'count', 3, 3, :ws)"), params)
        upgrade(at_0006)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT event_count FROM window_states")).scalar_one() == 3
            assert conn.execute(text("SELECT value FROM metric_points")).scalar_one() == 3
            conn.execute(text(  # the id sequence survived the move
                "INSERT INTO metric_points (model, version, window_start, window_end, feature, "
                "metric, value, sample_size, evaluated_at) VALUES ('m', '1', :ws, :we, 'f', "
                "'count', 1, 1, :ws)"), params)
    finally:
        engine.dispose()
