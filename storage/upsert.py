"""Dialect-aware bulk ``INSERT ... ON CONFLICT`` (Postgres and SQLite share the syntax).

One executemany statement per call: the worker writes thousands of rows per transaction.
Nothing here commits; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql.elements import ColumnElement

Row = Mapping[str, Any]
SetClause = Callable[[Any, Table], Mapping[str, ColumnElement[Any] | Any]]
"""Builds extra ``SET`` expressions from ``(excluded, table)``, e.g. a ``max`` of both."""


def _table(target: type[DeclarativeBase] | Table) -> Table:
    if isinstance(target, Table):
        return target
    table = target.__table__
    assert isinstance(table, Table)
    return table


def dialect_insert(session: Session, target: type[DeclarativeBase] | Table) -> Any:
    """The Postgres or SQLite ``insert()`` construct (both have ``on_conflict_*``)."""
    name = session.get_bind().dialect.name
    table = _table(target)
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {name!r}: use Postgres or SQLite")


def upsert(
    session: Session,
    target: type[DeclarativeBase] | Table,
    rows: Sequence[Row],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    extra_set: SetClause | None = None,
) -> int:
    """Insert ``rows``; where ``conflict`` columns match a row, overwrite the ``update`` columns.

    Columns missing from the rows take their Python defaults (e.g. ``updated_at``), so list
    only columns the rows carry (or that have such a default) in ``update``.
    Returns the number of rows written.
    """
    if not rows:
        return 0
    stmt = dialect_insert(session, target)
    set_: dict[str, Any] = {column: stmt.excluded[column] for column in update}
    if extra_set is not None:
        set_.update(extra_set(stmt.excluded, _table(target)))
    if set_:
        stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    session.execute(stmt, list(rows))
    return len(rows)


def insert_missing(
    session: Session,
    target: type[DeclarativeBase] | Table,
    rows: Sequence[Row],
    *,
    conflict: Sequence[str],
) -> None:
    """Insert the ``rows`` whose ``conflict`` key is not present yet; leave the rest."""
    if rows:
        stmt = dialect_insert(session, target).on_conflict_do_nothing(index_elements=list(conflict))
        session.execute(stmt, list(rows))
