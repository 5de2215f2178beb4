"""The ``local`` transport: batches go to the in-process :class:`~infersight.sdk.local_bus.LocalBus`.

Used by ``infersight up`` / ``infersight demo``, whose embedded worker reads the bus.

>>> from infersight.sdk.local_bus import LocalBus
>>> bus = LocalBus()
>>> LocalTransport(bus).send("infersight.events", b"fraud", b"{}").error is None
True
>>> bus.read("infersight.events", 0)
[(0, b'fraud', b'{}')]
"""

from __future__ import annotations

from .local_bus import LocalBus, get_local_bus
from .transport import DELIVERED, Delivery, Transport

__all__ = ["LocalTransport"]


class LocalTransport(Transport):
    """Publishes each batch to a local bus (default: the process-global one)."""

    description = "local"

    def __init__(self, bus: LocalBus | None = None) -> None:
        self._bus = bus

    def send(self, topic: str, key: bytes | None, value: bytes) -> Delivery:
        (self._bus or get_local_bus()).publish(topic, key, value)
        return DELIVERED
