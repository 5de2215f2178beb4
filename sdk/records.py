"""The records the call path puts on the queue: plain tuples, the cheapest thing to build.

Times are ``time.perf_counter_ns()`` readings; the background thread turns them into wall-clock
timestamps (one ``time_ns()`` per drain round instead of one per call).

``(CALL, spec, args, kwargs, result, error, start_ns, end_ns, number, user_ids)``
    a monitored call (``error`` is the exception type's name or ``None``; ``number`` comes
    from :func:`infersight.sdk.ids.next_number`);
``(PREDICTION, model, version, features, prediction, latency_ms, prediction_id, ts, tags,
feature_names, redact, hash, error, at_ns, usage, ttft_ms)``
    ``log_prediction`` and the context-manager form of ``monitor``;
``(LABEL, model, prediction_id, label, ts, at_ns)``
    ``log_label``;
``(FLUSH, threading.Event, deadline)``
    a flush request (``deadline`` on the monotonic clock): the background thread sends
    everything queued before it, then sets the event.

>>> CALL, PREDICTION, LABEL, FLUSH
(0, 1, 2, 3)
"""

from __future__ import annotations

from typing import Any

__all__ = ["CALL", "FLUSH", "LABEL", "PREDICTION", "QueueItem"]

CALL = 0
PREDICTION = 1
LABEL = 2
FLUSH = 3

QueueItem = tuple[Any, ...]
"""One queued tuple, as above."""
