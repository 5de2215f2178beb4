"""The Kafka transport (kafka-python, imported lazily on the background thread).

One batch per Kafka message, key = the model and a hash of the message
(:func:`infersight.sdk.keys.message_key`, so one model's batches spread over every
partition). TLS and SASL come from ``INFERSIGHT_KAFKA_SECURITY_PROTOCOL`` and the other Kafka security variables
(:class:`~infersight.sdk.kafka_security.KafkaSecurity`). The producer never blocks the
call path (only the background thread talks to it), and its own waits are bounded:
``max_block_ms`` for metadata, ``delivery_timeout_ms`` for a send, after which the
SDK retries the batch itself with backoff.

URL options: ``acks`` (``0``, ``1`` (default) or ``all``), ``compression`` (``gzip``,
``snappy``, ``lz4``, ``zstd``; the last three need their Python packages), ``linger_ms``,
``client_id``. ``kafka://`` without hosts takes them from ``INFERSIGHT_KAFKA_BOOTSTRAP_SERVERS``.

>>> transport = KafkaTransport.from_url("kafka://broker-1:9092,broker-2:9092?acks=all&compression=gzip")
>>> transport.bootstrap_servers, transport.producer_options["acks"], transport.producer_options["compression_type"]
(['broker-1:9092', 'broker-2:9092'], 'all', 'gzip')
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .kafka_security import KafkaSecurity
from .transport import Delivery, PermanentSendError, Transport

__all__ = ["KafkaTransport"]

_BASE_OPTIONS: dict[str, Any] = {
    "acks": 1,
    "enable_idempotence": False,  # idempotence needs acks=all; at-least-once is the contract
    # Each SDK batch is already many events: give every message its own Kafka record batch
    # rather than waiting to merge several (no linger), which also keeps the high watermark
    # right on brokers that miscount multi-record batches (Tansu).
    "batch_size": 1,
    "linger_ms": 0,
    "max_block_ms": 2000,
    "request_timeout_ms": 3000,
    "delivery_timeout_ms": 6000,
    "retry_backoff_ms": 100,
    "reconnect_backoff_ms": 50,
    "reconnect_backoff_max_ms": 1000,
    "bootstrap_timeout_ms": 2000,
    "max_request_size": 1_048_576,
    "client_id": "infersight-sdk",
}
_COMPRESSIONS = {"gzip", "snappy", "lz4", "zstd"}
_abandoned: list[Any] = []  # producers inherited through fork: never closed from the child


class _KafkaDelivery(Delivery):
    def __init__(self, future: Any) -> None:
        self._future = future

    def wait(self, timeout: float) -> bool:
        if not self._future.is_done:
            with contextlib.suppress(Exception):  # the outcome is read from the future below
                self._future.get(timeout=max(0.0, timeout))
        return bool(self._future.is_done)

    @property
    def error(self) -> BaseException | None:
        if not self._future.is_done:
            return None
        exception: BaseException | None = self._future.exception
        if exception is not None and getattr(exception, "retriable", True) is False:
            return PermanentSendError(f"{type(exception).__name__}: {exception}")
        return exception


class KafkaTransport(Transport):
    """Produces each batch as one Kafka message (keyed by the sender)."""

    def __init__(
        self, bootstrap_servers: list[str], security: KafkaSecurity | None = None,
        **producer_options: Any,
    ) -> None:
        if not bootstrap_servers:
            raise ValueError("kafka transport needs at least one host:port")
        self.bootstrap_servers = bootstrap_servers
        self.security = security or KafkaSecurity()
        self._options = producer_options
        self.producer_options = {**_BASE_OPTIONS, **producer_options,
                                 **self.security.client_options()}
        self.description = "kafka://" + ",".join(bootstrap_servers)
        self._producer: Any = None

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str] | None = None) -> KafkaTransport:
        """Parse ``kafka://host:port[,host:port][?option=value&...]``; TLS/SASL settings and
        (for ``kafka://`` alone) the hosts come from ``environ`` (default: the process's)."""
        env = os.environ if environ is None else environ
        parts = urlsplit(url)
        hosts = parts.netloc or env.get("INFERSIGHT_KAFKA_BOOTSTRAP_SERVERS", "")
        servers = [server.strip() for server in hosts.split(",") if server.strip()]
        if not servers:
            raise ValueError(f"kafka transport {url!r}: give host:port, or set "
                             "INFERSIGHT_KAFKA_BOOTSTRAP_SERVERS")
        for server in servers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"kafka transport {url!r}: {server!r} is not host:port")
        options: dict[str, Any] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name == "acks":
                if value not in {"0", "1", "all", "-1"}:
                    raise ValueError(f"kafka transport {url!r}: acks must be 0, 1 or all, got {value!r}")
                options["acks"] = value if value == "all" else int(value)
                if options["acks"] in ("all", -1):
                    options["enable_idempotence"] = True
            elif name == "compression":
                if value not in _COMPRESSIONS | {"none", ""}:
                    raise ValueError(f"kafka transport {url!r}: compression must be one of {sorted(_COMPRESSIONS)}")
                options["compression_type"] = None if value in {"none", ""} else value
            elif name == "linger_ms":
                if not value.isdigit():
                    raise ValueError(f"kafka transport {url!r}: linger_ms must be an integer, got {value!r}")
                options["linger_ms"] = int(value)
            elif name == "client_id":
                options["client_id"] = value
            else:
                raise ValueError(
                    f"kafka transport {url!r}: unknown option {name!r} (acks, compression, linger_ms, client_id)"
                )
        options.setdefault("compression_type", None)
        return cls(servers, KafkaSecurity.from_environ(env), **options)

    def _ensure_producer(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer  # lazily: keeps `import infersight` fast

            producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, **self.producer_options)
            # kafka-python's own exit hook would flush again (up to 2 s more) after the SDK's
            # exit flush, which closes the producer within its own deadline.
            unregister = getattr(producer, "_unregister_cleanup", None)
            if callable(unregister):
                unregister()
            self._producer = producer
        return self._producer

    def send(self, topic: str, key: bytes | None, value: bytes) -> Delivery:
        from kafka.errors import KafkaError

        producer = self._ensure_producer()
        try:
            future = producer.send(topic, key=key, value=value)
        except KafkaError as exc:
            if not exc.retriable:
                raise PermanentSendError(f"{type(exc).__name__}: {exc}") from exc
            raise
        return _KafkaDelivery(future)

    def close(self, timeout: float) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        deadline = time.monotonic() + max(0.0, timeout)
        try:
            producer.close(timeout=max(0.0, timeout))
        except Exception:
            # kafka-python's close() gives up (raising) when its flush times out, e.g. with the
            # broker down, and leaves its I/O thread running: stop that thread, then close.
            sender = getattr(producer, "_sender", None)
            if sender is not None:
                with contextlib.suppress(Exception):
                    sender.force_close()
                    sender.join(max(0.0, min(1.0, deadline - time.monotonic())))
            with contextlib.suppress(Exception):
                producer.close(timeout=0)
            if getattr(producer, "_closed", True) is False:
                _abandoned.append(producer)  # never let its __del__ retry the flush

    def after_fork(self) -> Transport:
        if self._producer is not None:
            # Its sockets and threads belong to the parent: never close it from here.
            unregister = getattr(self._producer, "_unregister_cleanup", None)
            if callable(unregister):
                unregister()
            _abandoned.append(self._producer)
        return KafkaTransport(list(self.bootstrap_servers), self.security, **self._options)
