"""The in-process message bus behind the ``local`` transport.

The SDK publishes encoded batches here; the collector worker in embedded mode
(``infersight up`` / ``demo``) reads them back by offset, like one Kafka partition
per topic. Memory is bounded: each topic keeps at most ``max_messages_per_topic``
messages; older ones are trimmed and counted.

>>> bus = LocalBus(max_messages_per_topic=2)
>>> for value in (b"a", b"b", b"c"):
...     bus.publish("infersight.events", b"fraud", value)
>>> bus.start_offset("infersight.events"), bus.end_offset("infersight.events")
(1, 3)
>>> bus.read("infersight.events", 0)
[(1, b'fraud', b'b'), (2, b'fraud', b'c')]
>>> bus.stats
{'published': 3, 'trimmed': 1}
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["DEFAULT_MAX_MESSAGES_PER_TOPIC", "LocalBus", "get_local_bus"]

DEFAULT_MAX_MESSAGES_PER_TOPIC = 100_000

StoredMessage = tuple[int, bytes | None, bytes]


class _TopicLog:
    """One topic's retained messages: offsets ``base .. base + len(messages) - 1``."""

    __slots__ = ("base", "messages")

    def __init__(self) -> None:
        self.base = 0
        self.messages: list[tuple[bytes | None, bytes]] = []

    @property
    def end(self) -> int:
        return self.base + len(self.messages)


class LocalBus:
    """A thread-safe, bounded, offset-addressed log of messages per topic (one partition)."""

    def __init__(self, max_messages_per_topic: int = DEFAULT_MAX_MESSAGES_PER_TOPIC) -> None:
        if max_messages_per_topic < 1:
            raise ValueError(
                f"max_messages_per_topic must be at least 1, got {max_messages_per_topic}"
            )
        self._limit = max_messages_per_topic
        self._topics: dict[str, _TopicLog] = {}
        self._changed = threading.Condition()
        self._published = 0
        self._trimmed = 0

    def publish(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Append one message to ``topic``; trims the oldest one beyond the bound."""
        with self._changed:
            log = self._topics.get(topic)
            if log is None:
                log = self._topics[topic] = _TopicLog()
            log.messages.append((key, value))
            self._published += 1
            excess = len(log.messages) - self._limit
            # Trim lazily in chunks so that publishing stays O(1) amortised; messages
            # beyond the bound are already invisible to readers.
            if excess > 0 and excess >= max(1, self._limit // 8):
                del log.messages[:excess]
                log.base += excess
                self._trimmed += excess
            self._changed.notify_all()

    def _retained(self, log: _TopicLog) -> tuple[int, int]:
        """(first retained offset, index of it in ``log.messages``) honouring the bound."""
        hidden = max(0, len(log.messages) - self._limit)
        return log.base + hidden, hidden

    def read(
        self, topic: str, offset: int, max_messages: int = 1000, timeout: float = 0.0
    ) -> list[StoredMessage]:
        """Messages ``(offset, key, value)`` of ``topic`` from ``offset`` on (at most ``max_messages``).

        An offset below the first retained one starts at the first retained message.
        Waits up to ``timeout`` seconds for a message when none is available yet.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._changed:
            while True:
                log = self._topics.get(topic)
                if log is not None and log.end > offset:
                    start, hidden = self._retained(log)
                    first = max(offset, start)
                    index = hidden + (first - start)
                    chunk = log.messages[index : index + max(0, max_messages)]
                    return [(first + i, key, value) for i, (key, value) in enumerate(chunk)]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._changed.wait(remaining)

    def end_offset(self, topic: str) -> int:
        """The offset the next message published to ``topic`` will get."""
        with self._changed:
            log = self._topics.get(topic)
            return 0 if log is None else log.end

    def start_offset(self, topic: str) -> int:
        """The first retained offset of ``topic``."""
        with self._changed:
            log = self._topics.get(topic)
            return 0 if log is None else self._retained(log)[0]

    def _reset_lock_after_fork(self) -> None:
        self._changed = threading.Condition()

    @property
    def stats(self) -> dict[str, int]:
        """Messages published and trimmed (over all topics)."""
        with self._changed:
            hidden = sum(max(0, len(log.messages) - self._limit) for log in self._topics.values())
            return {"published": self._published, "trimmed": self._trimmed + hidden}


_bus_lock = threading.Lock()
_bus: LocalBus | None = None


def _after_fork_in_child() -> None:
    # A lock held by another thread at fork time would stay held forever in the child.
    global _bus_lock
    _bus_lock = threading.Lock()
    if _bus is not None:
        _bus._reset_lock_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def get_local_bus() -> LocalBus:
    """The process-global bus shared by the ``local`` transport and the embedded worker.

    >>> get_local_bus() is get_local_bus()
    True
    """
    global _bus
    with _bus_lock:
        if _bus is None:
            _bus = LocalBus()
        return _bus
