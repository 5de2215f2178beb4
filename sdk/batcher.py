"""Batching by count, bytes or age, whichever comes first; encoding with size limits.

Events are grouped per (topic, model): one batch is one Kafka message (keyed by its model
and a hash of its content, :func:`infersight.sdk.keys.message_key`). A batch is ready when it holds ``max_events`` events, when its estimated size
reaches ``max_bytes``, or when its oldest event is ``max_age`` seconds old. Encoding
splits a batch that still comes out too large, and isolates events that cannot be
encoded (dropped as ``encode_error``) from the rest.

>>> batcher = Batcher(max_events=2, max_bytes=10_000, max_age=0.2)
>>> batcher.add("infersight.events", {"model": "fraud", "n": 1}, now=0.0)
[]
>>> [(b.topic, b.model, len(b.events)) for b in batcher.add("infersight.events", {"model": "fraud", "n": 2}, now=0.1)]
[('infersight.events', 'fraud', 2)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Batch", "Batcher", "EncodeResult", "encode_within_limit"]

_INITIAL_EVENT_BYTES = 600.0


@dataclass
class Batch:
    """Events of one model bound for one topic."""

    topic: str
    model: str
    events: list[dict[str, Any]] = field(default_factory=list)
    started: float = 0.0


class Batcher:
    """Accumulates events into per-(topic, model) batches."""

    def __init__(self, max_events: int, max_bytes: int, max_age: float) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._open: dict[tuple[str, str], Batch] = {}
        self._event_bytes = _INITIAL_EVENT_BYTES  # running estimate, refined after encoding

    def observe_encoded(self, events: int, size: int) -> None:
        """Refine the bytes-per-event estimate from a batch just encoded."""
        if events > 0:
            self._event_bytes = 0.8 * self._event_bytes + 0.2 * (size / events)

    def _full(self, batch: Batch) -> bool:
        count = len(batch.events)
        return count >= self.max_events or count * self._event_bytes >= self.max_bytes

    def add(self, topic: str, event: dict[str, Any], now: float) -> list[Batch]:
        """Add one event; returns the batches that became ready."""
        model = str(event.get("model", ""))
        slot = (topic, model)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = Batch(topic, model, started=now)
        batch.events.append(event)
        if self._full(batch):
            del self._open[slot]
            return [batch]
        return []

    def due(self, now: float) -> list[Batch]:
        """Batches whose oldest event has waited ``max_age`` seconds."""
        ready = [slot for slot, batch in self._open.items() if now - batch.started >= self.max_age]
        return [self._open.pop(slot) for slot in ready]

    def take_all(self) -> list[Batch]:
        """Every open batch (for a flush)."""
        batches = list(self._open.values())
        self._open.clear()
        return batches

    def next_deadline(self) -> float | None:
        """When the oldest open batch becomes due (monotonic seconds), if any."""
        if not self._open:
            return None
        return min(batch.started for batch in self._open.values()) + self.max_age


@dataclass
class EncodeResult:
    """Encoded messages (with their event counts) and the events that failed to encode."""

    messages: list[tuple[bytes, int]] = field(default_factory=list)
    failed: list[tuple[Mapping[str, Any], str]] = field(default_factory=list)


def encode_within_limit(
    events: Sequence[Mapping[str, Any]],
    encode: Callable[[Sequence[Mapping[str, Any]]], bytes],
    max_bytes: int,
) -> EncodeResult:
    """Encode ``events`` into as few messages as fit ``max_bytes`` each.

    An oversize batch is split in halves; a single event that is too large or cannot be
    encoded ends up in ``failed`` with the reason.

    >>> import json
    >>> encode = lambda events: json.dumps(list(events)).encode()
    >>> result = encode_within_limit([{"v": "x" * 40}] * 4 + [{"v": "x" * 500}], encode, 120)
    >>> [count for _, count in result.messages], [reason[:8] for _, reason in result.failed]
    ([2, 1, 1], ['oversize'])
    """
    result = EncodeResult()
    stack: list[Sequence[Mapping[str, Any]]] = [events]
    while stack:
        part = stack.pop()
        if not part:
            continue
        try:
            encoded = encode(part)
        except Exception as exc:
            if len(part) == 1:
                result.failed.append((part[0], f"cannot encode: {type(exc).__name__}: {exc}"))
                continue
            encoded = None
        if encoded is not None and len(encoded) <= max_bytes:
            result.messages.append((encoded, len(part)))
            continue
        if len(part) == 1:
            size = len(encoded) if encoded is not None else 0
            result.failed.append((part[0], f"oversize: {size} bytes encoded, limit {max_bytes}"))
            continue
        middle = len(part) // 2
        stack.append(part[middle:])
        stack.append(part[:middle])
    return result
