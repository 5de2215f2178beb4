"""Alembic environment: the URL from the config or from the settings; the models' metadata.

On Postgres an advisory lock serialises concurrent upgrades (several workers starting at
once); SQLite uses batch mode so later migrations can alter tables.
"""

from __future__ import annotations

from alembic import context
from infersight.migrations.metadata import target_metadata as _target_metadata
from infersight.storage.db import make_engine
from sqlalchemy import Connection, text

MIGRATION_LOCK_ID = 0x1AF3_5167  # arbitrary, constant: pg_advisory_xact_lock key

config = context.config
target_metadata = _target_metadata()


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from infersight.settings import load_settings

    return load_settings().resolved_database_url()


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    dialect = connection.dialect.name if connection is not None else (url or "").split(":")[0]
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=dialect.startswith("sqlite"),
        literal_binds=connection is None,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_ID}
            )
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    _configure(url=_database_url())
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
