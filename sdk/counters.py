"""Thread-safe counts behind ``infersight.stats()``: sent, dropped by reason, errors.

The call path only touches this object when it drops an event because the queue is full
(:meth:`Counters.queue_full`, which takes the lock only for the first one, to log it).

>>> counters = Counters()
>>> counters.queue_full(); counters.dropped("queue_full"); counters.sent(5)
>>> counters.error(ValueError("boom")); counters.dropped_field("ttft_ms", "got -1.0")
>>> snapshot = counters.snapshot()
>>> snapshot["sent"], snapshot["dropped"], snapshot["dropped_by_reason"], snapshot["last_error"]
(5, 2, {'queue_full': 2}, 'ValueError: boom')
>>> snapshot["dropped_fields"]
{'ttft_ms': 1}
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

__all__ = ["DROP_REASONS", "Counters", "sdk_logger"]


def sdk_logger() -> Any:
    """The ``infersight.sdk`` logger (``logging`` is imported on first use, not at import)."""
    import logging

    return logging.getLogger("infersight.sdk")

DROP_REASONS = (
    "queue_full",  # the bounded queue was full: the call returned at once, the event was dropped
    "extract_error",  # a features/prediction extractor raised, or the input could not be read
    "invalid_event",  # a logged event was malformed (e.g. no model, a bad ts)
    "encode_error",  # the event could not be encoded, or is larger than a batch may be
    "send_error",  # the destination refused the batch for good, or it failed to arrive
    "shutdown",  # still unsent when shutdown's deadline passed, or logged after shutdown
    "exit_timeout",  # still unsent when the interpreter exited (init(exit_timeout=...) passed)
)

DROPPED_FIELDS = (
    "usage",  # the usage extractor raised or gave something that is not token counts
    "ttft_ms",  # a time to first token that is negative or not finite
)
"""Fields left out of an event that was still sent (``stats()["dropped_fields"]``)."""


def _count_of(counter: itertools.count[int]) -> int:
    """How many times ``next`` was called on a ``count()``: its repr is ``count(n)``."""
    return int(repr(counter)[6:-1])


class Counters:
    """Counts of what the SDK did with the events it was given."""

    def __init__(self, silent: bool = False) -> None:
        self._silent = silent  # counts without logging (for a worker abandoned past its deadline)
        self._lock = threading.Lock()
        self._sent = 0
        self._batches = 0
        self._dropped: dict[str, int] = {}
        self._queue_full = itertools.count()  # next() is atomic under the GIL: no lock needed
        self._dropped_fields: dict[str, int] = {}
        self._errors = 0
        self._last_error: str | None = None
        self._warned: set[str] = set()

    def sent(self, events: int) -> None:
        with self._lock:
            self._sent += events
            self._batches += 1

    def queue_full(self) -> None:
        """Count one event dropped because the queue was full (the call path's drop: no lock)."""
        if next(self._queue_full) == 0:
            self._warn_first("queue_full", 1, None)

    def dropped(self, reason: str, events: int = 1, detail: str | None = None) -> None:
        """Count dropped events; the first drop of each reason is logged as a warning."""
        with self._lock:
            self._dropped[reason] = self._dropped.get(reason, 0) + events
        self._warn_first(reason, events, detail)

    def _warn_first(self, reason: str, events: int, detail: str | None) -> None:
        with self._lock:
            first = reason not in self._warned and not self._silent
            self._warned.add(reason)
        if first:
            sdk_logger().warning(
                "infersight dropped %d event(s): %s%s (further drops are counted in infersight.stats())",
                events, reason, f" ({detail})" if detail else "",
            )

    def dropped_field(self, name: str, detail: str) -> None:
        """Count a field left out of an event that is still sent; the first of each is logged."""
        with self._lock:
            self._dropped_fields[name] = self._dropped_fields.get(name, 0) + 1
            first = f"field {name}" not in self._warned and not self._silent
            self._warned.add(f"field {name}")
        if first:
            sdk_logger().warning(
                "infersight sent an event without its %s: %s (further ones are counted in "
                "infersight.stats()['dropped_fields'])", name, detail,
            )

    def error(self, exc: BaseException) -> None:
        """Count an internal failure (e.g. a send attempt that will be retried)."""
        text = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._errors += 1
            self._last_error = text
            first = "error" not in self._warned and not self._silent
            self._warned.add("error")
        if first:
            sdk_logger().warning("infersight: %s (retrying; see infersight.stats())", text)
        elif not self._silent:
            sdk_logger().debug("infersight: %s", text)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            dropped = dict(self._dropped)
            queue_full = _count_of(self._queue_full)
            if queue_full:
                dropped["queue_full"] = dropped.get("queue_full", 0) + queue_full
            return {
                "sent": self._sent,
                "batches_sent": self._batches,
                "dropped": sum(dropped.values()),
                "dropped_by_reason": dropped,
                "dropped_fields": dict(self._dropped_fields),
                "errors": self._errors,
                "last_error": self._last_error,
            }
