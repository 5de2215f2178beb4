"""Wire format ``infersight.events/v1`` (placeholder; replaced by the full codec)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

SCHEMA = "infersight.events/v1"
EVENTS_TOPIC = "infersight.events"
LABELS_TOPIC = "infersight.labels"
DEADLETTER_TOPIC = "infersight.deadletter"

_encoder = msgspec.json.Encoder()


def encode_batch(events: Sequence[Mapping[str, Any]]) -> bytes:
    """Encode events (dicts in wire shape) as one batch message."""
    return _encoder.encode({"schema": SCHEMA, "events": list(events)})
