"""The transport interface and the factory that parses a transport spec.

A transport hands one encoded batch (one Kafka message / one HTTP request) to its
destination. ``send`` is called on the background thread only; it may block there (never
on the call path). It returns a :class:`Delivery`, already done for synchronous
transports; a transport that raises :class:`PermanentSendError` says "retrying will not
help" (the batch is dropped as ``send_error``), any other exception is retried with backoff.

Specs: ``kafka://host:port[,host2:port][?acks=all&compression=gzip]``,
``http://host:8000`` / ``https://...``, ``local``, ``memory``.

>>> create_transport("kafka://127.0.0.1:9092,127.0.0.1:9093?acks=all").description
'kafka://127.0.0.1:9092,127.0.0.1:9093'
>>> create_transport("carrier-pigeon://coop")
Traceback (most recent call last):
...
ValueError: unknown transport 'carrier-pigeon://coop': use kafka://host:port, http(s)://host:port, local or memory
"""

from __future__ import annotations

from abc import ABC, abstractmethod

__all__ = [
    "DELIVERED",
    "Delivery",
    "PermanentSendError",
    "Transport",
    "create_transport",
]


class PermanentSendError(Exception):
    """Sending this batch can never succeed (e.g. rejected as too large or unauthorised)."""


class Delivery:
    """The outcome of one send: done or not, and the error if it failed."""

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; whether the delivery is done."""
        return True

    @property
    def error(self) -> BaseException | None:
        """The failure, once done; ``None`` on success."""
        return None


DELIVERED = Delivery()
"""The outcome of a synchronous send that succeeded."""


class Transport(ABC):
    """Where batches go. Subclass it to plug in your own destination."""

    description: str = "custom"

    @abstractmethod
    def send(self, topic: str, key: bytes | None, value: bytes) -> Delivery:
        """Hand over one encoded batch (background thread only)."""

    def close(self, timeout: float) -> None:  # noqa: B027 - optional hook
        """Release connections, waiting at most ``timeout`` seconds for pending sends."""

    def after_fork(self) -> Transport:
        """The transport a forked child should use (default: this same object)."""
        return self


def create_transport(spec: object, api_key: str | None = None) -> Transport:
    """A transport from a spec string, or ``spec`` itself when it is already a Transport.

    Parsing only: nothing connects until the background thread first sends.
    """
    if isinstance(spec, Transport):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"transport must be a spec string or a Transport, got {type(spec).__name__}")
    text = spec.strip()
    lowered = text.lower()
    if lowered == "memory":
        from .transport_memory import MemoryTransport

        return MemoryTransport()
    if lowered == "local":
        from .transport_local import LocalTransport

        return LocalTransport()
    if lowered.startswith("kafka://"):
        from .transport_kafka import KafkaTransport

        return KafkaTransport.from_url(text)
    if lowered.startswith(("http://", "https://")):
        from .transport_http import HttpTransport

        return HttpTransport(text, api_key=api_key)
    raise ValueError(
        f"unknown transport {spec!r}: use kafka://host:port, http(s)://host:port, local or memory"
    )
