"""Kafka message keys: the model name plus a hash of the message, so that one model's
batches spread over every partition of a topic (and every worker consuming it).

The worker merges a window's per-partition states at evaluation and deduplicates
predictions across partitions, so no message needs a particular partition. The key stays
readable (``<model>/<8 hex digits>``) and is the same when a batch is sent again.

>>> message_key("fraud", b'{"schema":"infersight.events/v1","events":[]}')
b'fraud/ec3229b7'
>>> len({message_key("fraud", bytes([n])) for n in range(64)})
64
"""

from __future__ import annotations

import zlib

__all__ = ["message_key"]


def message_key(model: str, value: bytes) -> bytes:
    """The key of one encoded batch of ``model``'s events: ``<model>/<crc32 of value>``."""
    return f"{model}/{zlib.crc32(value):08x}".encode()

