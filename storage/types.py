"""Column types that behave the same on Postgres and SQLite.

``UtcDateTime`` stores timezone-aware UTC timestamps on both backends: Postgres keeps them
in ``timestamp with time zone``; SQLite has no time zone support, so the value is stored as
naive UTC text (fixed width, so comparisons and range scans stay correct) and read back as
an aware UTC datetime. Naive datetimes are refused: their meaning is ambiguous.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

NO_NUL = r"^[^\x00]*$"
"""Postgres ``text`` and ``jsonb`` cannot hold NUL (U+0000): text bound for the database must
match this pattern, so such input is refused with a 4xx before it reaches the database."""


def reject_nul(data: Any) -> Any:
    """Raise ``ValueError`` if any string in ``data`` (nested dicts/lists too) holds NUL.

    For pydantic ``model_validator(mode="before")`` on bodies that are stored as text/JSON.

    >>> reject_nul({"a": ["ok"]})
    {'a': ['ok']}
    >>> reject_nul({"a": "x" + chr(0)})
    Traceback (most recent call last):
    ...
    ValueError: text must not contain the NUL character (U+0000)
    """
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("text must not contain the NUL character (U+0000)")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return data


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} refused: pass a timezone-aware datetime "
                "(e.g. datetime.now(UTC))"
            )
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JsonType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")
"""JSON documents: ``jsonb`` on Postgres, JSON text on SQLite."""

IdType: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")
"""Surrogate keys: ``bigint`` on Postgres; SQLite only auto-increments ``INTEGER PRIMARY KEY``."""
