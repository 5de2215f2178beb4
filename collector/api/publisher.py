"""Where HTTP ingest puts accepted events: the same bus the SDK writes to.

:class:`KafkaPublisher` produces to the Kafka topics (``acks=all``; the request is answered
only once the broker has the batch); :class:`LocalPublisher` appends to the in-process bus
of the embedded mode. Both take whole wire-format batches with their keys
(:func:`infersight.sdk.keys.message_key`).

>>> from infersight.sdk.local_bus import LocalBus
>>> bus = LocalBus()
>>> LocalPublisher(bus).publish_all([("infersight.events", b"fraud", b"{}")], timeout_s=1)
>>> bus.end_offset("infersight.events")
1
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from infersight.sdk.kafka_security import KafkaSecurity

Message = tuple[str, bytes | None, bytes]
"""``(topic, key, value)``."""


class PublishError(RuntimeError):
    """The bus did not take the messages (the client should retry)."""


class Publisher(Protocol):
    description: str

    def publish_all(self, messages: Sequence[Message], timeout_s: float) -> None: ...

    def check(self, timeout_s: float) -> None:
        """Raise :class:`PublishError` when the bus is unreachable."""

    def close(self) -> None: ...


class LocalPublisher:
    """Publishes to an in-process :class:`~infersight.sdk.local_bus.LocalBus`."""

    description = "local bus"

    def __init__(self, bus: Any) -> None:
        self.bus = bus

    def publish_all(self, messages: Sequence[Message], timeout_s: float) -> None:
        for topic, key, value in messages:
            self.bus.publish(topic, key, value)

    def check(self, timeout_s: float) -> None:
        return None

    def close(self) -> None:
        return None


class KafkaPublisher:
    """Publishes to Kafka; the producer is created on first use so the API starts (and
    reports "not ready") while the broker is down."""

    def __init__(
        self, bootstrap_servers: str, max_request_bytes: int = 8 * 1024 * 1024,
        security: KafkaSecurity | None = None, **producer_options: Any,
    ) -> None:
        """``security``: TLS/SASL; ``producer_options``: further :class:`kafka.KafkaProducer`
        options."""
        self.description = f"kafka {bootstrap_servers}"
        self._options = producer_options
        self._bootstrap = bootstrap_servers
        self._max_request_bytes = max_request_bytes
        self._security = security or KafkaSecurity()
        self._producer: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._producer is None:
                from kafka import KafkaProducer

                try:
                    self._producer = KafkaProducer(
                        bootstrap_servers=self._bootstrap,
                        acks="all",
                        linger_ms=1,
                        max_block_ms=5000,
                        bootstrap_timeout_ms=3000,
                        max_request_size=self._max_request_bytes,
                        client_id="infersight-api",
                        **self._security.client_options(),
                        **self._options,
                    )
                except Exception as exc:
                    raise PublishError(f"cannot reach {self.description}: {exc}") from exc
            return self._producer

    def publish_all(self, messages: Sequence[Message], timeout_s: float) -> None:
        producer = self._get()
        try:
            futures = [producer.send(topic, key=key, value=value) for topic, key, value in messages]
            producer.flush(timeout=timeout_s)
            for future in futures:
                future.get(timeout=timeout_s)
        except Exception as exc:
            raise PublishError(f"{self.description} did not take the batch: {exc}") from exc

    def check(self, timeout_s: float) -> None:
        producer = self._get()
        try:
            if not producer.bootstrap_connected():  # metadata round trip, bounded by max_block_ms
                producer.partitions_for("infersight.events")
        except Exception as exc:
            raise PublishError(f"{self.description} unreachable: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=2)
                self._producer = None
