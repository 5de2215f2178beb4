"""The ``memory`` transport: keeps every batch in a list, for your own unit tests.

>>> import infersight
>>> from infersight.sdk import MemoryTransport
>>> sent = MemoryTransport()
>>> infersight.init(transport=sent)
>>> @infersight.monitor(model="fraud", version="3")
... def predict(features):
...     return 0.93
>>> predict({"amount": 12.5})
0.93
>>> infersight.flush()
True
>>> event = sent.events[0]
>>> event["model"], event["features"], event["prediction"]
('fraud', {'amount': 12.5}, 0.93)
>>> infersight.shutdown()
"""

from __future__ import annotations

import json
import threading
from typing import Any, NamedTuple

from .transport import DELIVERED, Delivery, Transport
from .wire import SCHEMA_V2
from .wire.columnar import as_v1_events

__all__ = ["MemoryTransport", "SentBatch"]


class SentBatch(NamedTuple):
    """One batch as it would have gone on the wire."""

    topic: str
    key: bytes | None
    value: bytes

    def decoded(self) -> dict[str, Any]:
        """The batch's JSON document ``{"schema": ..., "events": [...]}`` (a columnar
        ``infersight.events/v2`` batch with its events as v1 objects)."""
        document: dict[str, Any] = json.loads(self.value)
        if document.get("schema") == SCHEMA_V2:
            return {"schema": SCHEMA_V2, "events": as_v1_events(document)}
        return document


class MemoryTransport(Transport):
    """Records batches in memory; ``events`` decodes them. Thread-safe."""

    description = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches: list[SentBatch] = []

    def send(self, topic: str, key: bytes | None, value: bytes) -> Delivery:
        with self._lock:
            self._batches.append(SentBatch(topic, key, value))
        return DELIVERED

    @property
    def batches(self) -> list[SentBatch]:
        """The batches sent so far, oldest first (a copy)."""
        with self._lock:
            return list(self._batches)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event of every batch (predictions and labels), oldest first."""
        return [event for batch in self.batches for event in batch.decoded()["events"]]

    def events_of(self, topic: str) -> list[dict[str, Any]]:
        """The events sent to one topic, e.g. ``infersight.labels``."""
        return [
            event for batch in self.batches if batch.topic == topic for event in batch.decoded()["events"]
        ]

    def clear(self) -> None:
        """Forget the batches sent so far."""
        with self._lock:
            self._batches.clear()
