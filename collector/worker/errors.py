"""What the worker treats as "the database is unavailable", and short error texts for logs.

>>> short(ValueError("first line\\nsecond line"))
'first line'
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

DATABASE_ERRORS = (OperationalError, DBAPIError, OSError)
"""Errors after which the worker pauses, rolls its memory back and retries with backoff."""


def short(exc: BaseException) -> str:
    """The first line of an error message (at most 200 characters), or its type name."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
