"""Engines: SQLite pragmas, URL handling, foreign keys, and the caller owning transactions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from infersight.storage.db import (
    make_engine,
    normalise_url,
    session_factory,
    upgrade,
    write_engine_for,
)
from infersight.storage.models import ModelVersion
from infersight.storage.offsets import load_offsets, save_offsets
from infersight.storage.registry import ensure_model_versions
from infersight.storage.windows import WindowStateRecord, load_window_states, upsert_window_states
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker


def test_sqlite_engine_uses_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    assert (tmp_path / "nested" / "dir" / "x.db").exists()
    engine.dispose()


def test_postgres_urls_are_routed_to_psycopg_3() -> None:
    assert normalise_url("postgresql://u@h:5432/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("url", "reason"),
    [("mysql://u@h/db", "unsupported database"), ("not a url", "invalid database URL")],
)
def test_unusable_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        make_engine(url)


def test_deleting_a_model_cascades_to_its_versions(
    sessions: sessionmaker[Session], unique_name: str
) -> None:
    with sessions.begin() as session:
        ensure_model_versions(session, [(unique_name, "1"), (unique_name, "2")])
    with sessions.begin() as session:
        session.execute(text("DELETE FROM models WHERE name = :n"), {"n": unique_name})
    with sessions() as session:
        assert session.query(ModelVersion).filter_by(model=unique_name).count() == 0


def test_window_states_and_offsets_commit_or_roll_back_together(
    engine: Engine, sessions: sessionmaker[Session], unique_name: str
) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    record = WindowStateRecord(
        unique_name, "1", start, datetime(2024, 1, 1, 1, tzinfo=UTC), "t/0", b"s", 3
    )
    with sessions() as session:
        upsert_window_states(session, [record])
        save_offsets(session, unique_name, {("t", 0): (None, 42)})
        session.rollback()
    with sessions() as session:
        assert load_window_states(session, unique_name) == []
        assert load_offsets(session, unique_name) == {}

    with sessions() as session:
        upsert_window_states(session, [record])
        save_offsets(session, unique_name, {("t", 0): (None, 42)})
        session.commit()
    with engine.connect() as other:  # a separate connection sees both
        other_session = Session(other)
        assert load_offsets(other_session, unique_name) == {("t", 0): 42}
        assert [r.event_count for r in load_window_states(other_session, unique_name)] == [3]


def test_upgrade_is_idempotent(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        assert session.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    engine.dispose()


def test_immediate_sqlite_writers_that_read_first_wait_for_each_other(tmp_path: Path) -> None:
    import threading

    url = f"sqlite:///{tmp_path / 'writers.db'}"
    upgrade(url)
    engine = make_engine(url, sqlite_immediate=True)
    sessions = session_factory(engine)
    errors: list[BaseException] = []

    def increment(worker: int) -> None:
        try:
            for _ in range(20):
                with sessions.begin() as session:
                    current = load_offsets(session, "group").get(("t", 0))
                    save_offsets(session, "group", {("t", 0): (current, (current or 0) + 1)})
        except BaseException as exc:  # collected and reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=increment, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sessions() as session:
        assert load_offsets(session, "group") == {("t", 0): 80}  # no lost update
    engine.dispose()


def test_the_write_engine_of_a_sqlite_file_begins_immediate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(url)
    writer = write_engine_for(engine)
    statements: list[str] = []

    @event.listens_for(writer, "before_cursor_execute")
    def _seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    assert writer is not engine and writer.url == engine.url
    with session_factory(writer).begin() as session:
        session.execute(text("select 1"))
    assert "BEGIN IMMEDIATE" in statements
    memory = make_engine("sqlite://")
    assert write_engine_for(memory) is memory
    writer.dispose()
    engine.dispose()
