"""Prediction ids: a random per-process prefix plus a counter, cheap on the call path.

An id looks like ``"9f1c2a7be04d5c31-1a"``: 16 hex digits drawn from ``os.urandom`` when
the process starts (and again in a forked child), then the call counter in hex. Unique
across processes and hosts with overwhelming probability.

The decorator's call path only takes the next number (:func:`next_number`, ~25 ns); the
text is made off the call path by :func:`id_of` (on the background thread, or when
:func:`last_prediction_id` is read). A forked child keeps counting where its parent was
with a new prefix, so every number still maps to the one id it was sent with.

>>> number = next_number()
>>> first, second = id_of(number), new_prediction_id()
>>> first != second and first.split("-")[0] == second.split("-")[0]
True
>>> len(first.split("-")[0]), id_of(number) == first
(16, True)
"""

from __future__ import annotations

import itertools
import os
from contextvars import ContextVar

__all__ = ["LAST_PREDICTION_ID", "id_of", "last_prediction_id", "new_prediction_id", "next_number"]

LAST_PREDICTION_ID: ContextVar[str | int | None] = ContextVar("infersight_last_prediction_id", default=None)
"""The last id of this context: a string, or a number of :func:`next_number` not yet formatted."""

_counter = itertools.count(1)
next_number = _counter.__next__
"""The next call number (atomic under the GIL); :func:`id_of` turns it into the id."""

# (first number, prefix) of this process and of the ancestors it was forked from, oldest first.
_prefixes: list[tuple[int, str]] = [(0, os.urandom(8).hex() + "-")]


def id_of(number: int) -> str:
    """The prediction id of a number from :func:`next_number`."""
    start, prefix = _prefixes[-1]
    if number < start:  # taken before this process was forked from its parent
        prefix = next(p for s, p in reversed(_prefixes) if number >= s)
    return f"{prefix}{number:x}"


def new_prediction_id() -> str:
    """A fresh process-unique prediction id."""
    return id_of(next_number())


def last_prediction_id() -> str | None:
    """The id of the last monitored call or logged prediction in this context (thread or task).

    ``None`` before any, and after a call that sampling left out.

    >>> import infersight
    >>> infersight.init(transport="memory")
    >>> pid = infersight.log_prediction(model="fraud", features={"amount": 3.5}, prediction=0.9)
    >>> infersight.last_prediction_id() == pid
    True
    >>> infersight.shutdown()
    """
    value = LAST_PREDICTION_ID.get()
    return id_of(value) if type(value) is int else value  # type: ignore[return-value]


def _after_fork_in_child() -> None:
    _prefixes.append((next_number(), os.urandom(8).hex() + "-"))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
