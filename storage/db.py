"""Engines, sessions and schema upgrades.

``make_engine`` configures each backend for this service: SQLite in WAL mode with a busy
timeout, foreign keys and real transactions (``BEGIN`` issued by SQLAlchemy, so savepoints
work); Postgres through psycopg 3 with ``pool_pre_ping`` so a restarted server is noticed.
Repositories never commit: the caller owns the transaction.

>>> from sqlalchemy import text
>>> engine = make_engine("sqlite://")
>>> with session_factory(engine).begin() as session:
...     session.execute(text("select 1")).scalar_one()
1
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL, choosing psycopg 3 for Postgres.

    >>> normalise_url("postgres://u@h/db").drivername
    'postgresql+psycopg'
    >>> normalise_url("sqlite:///x.db").drivername
    'sqlite'
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise ValueError(f"invalid database URL {str(url)!r}: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql") and parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in ("postgresql", "sqlite"):
        raise ValueError(
            f"unsupported database {parsed.drivername!r} in {parsed.render_as_string()!r}: "
            "use postgresql+psycopg://... or sqlite:///path"
        )
    return parsed


def _configure_sqlite(engine: Engine, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (the driver's implicit transactions break
        # savepoints and issue BEGIN too late for consistent reads).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def make_engine(url: str | URL, *, sqlite_immediate: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for a Postgres or SQLite URL (parent folder of a SQLite file created).

    ``sqlite_immediate`` makes SQLite transactions take the write lock when they begin
    (``BEGIN IMMEDIATE``): use it for a writer whose transactions read before they write,
    so concurrent writers wait for each other (up to the busy timeout) instead of failing
    with "database is locked". Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine, "BEGIN IMMEDIATE" if sqlite_immediate else "BEGIN")
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def write_engine_for(engine: Engine) -> Engine:
    """The engine for transactions that read then write on ``engine``'s database.

    On a SQLite file, a second engine whose transactions begin with ``BEGIN IMMEDIATE`` (see
    :func:`make_engine`): they wait for the other writers instead of failing. Otherwise (a
    Postgres or in-memory database) ``engine`` itself; dispose a new one when done.

    >>> memory = make_engine("sqlite://")
    >>> write_engine_for(memory) is memory
    True
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return engine
    return make_engine(engine.url, sqlite_immediate=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    """Raise the driver's error if the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Create or upgrade the schema at ``url`` to ``revision`` (Alembic, latest by default);
    at the latest revision on Postgres, also create the prediction index's partitions ahead."""
    from alembic import command
    from infersight.migrations.config import alembic_config

    command.upgrade(alembic_config(url), revision)
    if revision == "head":
        ensure_partitions(url)


def ensure_partitions(url: str | URL) -> None:
    """Create the partitions of the time-partitioned tables from yesterday to a few days
    ahead (Postgres; nothing on SQLite)."""
    from infersight.storage import partitions
    from infersight.storage.types import utc_now

    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            return
        for spec in partitions.TABLES:
            with session_factory(engine)() as session, session.begin():
                partitions.maintain(session, utc_now(), None, spec=spec)
    finally:
        engine.dispose()


def downgrade(url: str | URL, revision: str) -> None:
    """Downgrade the schema at ``url`` to ``revision`` (``base`` removes every table)."""
    from alembic import command
    from infersight.migrations.config import alembic_config

    command.downgrade(alembic_config(url), revision)


def current_revision(url: str | URL) -> str | None:
    """The schema revision stored in the database at ``url`` (None when unversioned)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
