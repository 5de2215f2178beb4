"""Prediction ids: a random per-process prefix plus a counter, cheap on the call path.

An id looks like ``"9f1c2a7be04d5c31-1a"``: 16 hex digits drawn from ``os.urandom`` when
the process starts (and again in a forked child), then the call counter in hex.
Unique across processes and hosts with overwhelming probability, ~0.2 µs to make
(a uuid4 is ~1.5 µs).

>>> first, second = new_prediction_id(), new_prediction_id()
>>> first != second and first.split("-")[0] == second.split("-")[0]
True
>>> len(first.split("-")[0])
16
"""

from __future__ import annotations

import itertools
import os
from contextvars import ContextVar

__all__ = ["LAST_PREDICTION_ID", "last_prediction_id", "new_prediction_id"]

LAST_PREDICTION_ID: ContextVar[str | None] = ContextVar("infersight_last_prediction_id", default=None)

_prefix = os.urandom(8).hex() + "-"
_counter = itertools.count(1)


def new_prediction_id() -> str:
    """A fresh process-unique prediction id."""
    return f"{_prefix}{next(_counter):x}"


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
    return LAST_PREDICTION_ID.get()


def _after_fork_in_child() -> None:
    global _prefix, _counter
    _prefix = os.urandom(8).hex() + "-"
    _counter = itertools.count(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
