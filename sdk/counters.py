"""Thread-safe counts behind ``infersight.stats()``: sent, dropped by reason, errors.

The call path only touches this object when it drops an event (queue full), so the
lock is never taken on the normal path.

>>> counters = Counters()
>>> counters.dropped("queue_full", 2); counters.sent(5); counters.error(ValueError("boom"))
>>> snapshot = counters.snapshot()
>>> snapshot["sent"], snapshot["dropped"], snapshot["dropped_by_reason"], snapshot["last_error"]
(5, 2, {'queue_full': 2}, 'ValueError: boom')
"""

from __future__ import annotations

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
)


class Counters:
    """Counts of what the SDK did with the events it was given."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent = 0
        self._batches = 0
        self._dropped: dict[str, int] = {}
        self._errors = 0
        self._last_error: str | None = None
        self._warned: set[str] = set()

    def sent(self, events: int) -> None:
        with self._lock:
            self._sent += events
            self._batches += 1

    def dropped(self, reason: str, events: int = 1, detail: str | None = None) -> None:
        """Count dropped events; the first drop of each reason is logged as a warning."""
        with self._lock:
            self._dropped[reason] = self._dropped.get(reason, 0) + events
            first = reason not in self._warned
            self._warned.add(reason)
        if first:
            sdk_logger().warning(
                "infersight dropped %d event(s): %s%s (further drops are counted in infersight.stats())",
                events, reason, f" ({detail})" if detail else "",
            )

    def error(self, exc: BaseException) -> None:
        """Count an internal failure (e.g. a send attempt that will be retried)."""
        text = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._errors += 1
            self._last_error = text
            first = "error" not in self._warned
            self._warned.add("error")
        if first:
            sdk_logger().warning("infersight: %s (retrying; see infersight.stats())", text)
        else:
            sdk_logger().debug("infersight: %s", text)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "sent": self._sent,
                "batches_sent": self._batches,
                "dropped": sum(self._dropped.values()),
                "dropped_by_reason": dict(self._dropped),
                "errors": self._errors,
                "last_error": self._last_error,
            }
