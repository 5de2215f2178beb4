"""Dead letters on ``infersight.deadletter``: the refused input, where it came from and why.

See docs/wire-format.md ("Dead letters").
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Final, Literal

import msgspec

DEADLETTER_SCHEMA: Final = "infersight.deadletter/v1"
DEADLETTER_MAX_RAW_BYTES: Final = 512 * 1024
"""A dead letter keeps at most this many bytes of the offending input (``truncated`` says so)."""


class DeadLetterMessage(msgspec.Struct, kw_only=True):
    """A dead letter on ``infersight.deadletter``: the refused input and why."""

    schema: Literal["infersight.deadletter/v1"] = DEADLETTER_SCHEMA
    reason: str
    detail: str
    topic: str
    partition: int | None
    offset: int | None
    raw: str
    raw_encoding: Literal["utf-8", "base64"]
    raw_bytes: int
    truncated: bool
    dead_lettered_at: datetime

    def raw_input(self) -> bytes:
        """The kept bytes of the refused input (all of them unless ``truncated``)."""
        return base64.b64decode(self.raw) if self.raw_encoding == "base64" else self.raw.encode()



_deadletter_decoder: Final = msgspec.json.Decoder(DeadLetterMessage)


def encode_deadletter(
    raw: bytes, reason: str, detail: str, *, topic: str, partition: int | None, offset: int | None
) -> bytes:
    """A JSON dead letter for ``infersight.deadletter``: where the input came from, why it failed.

    The raw input is kept as text when it is UTF-8 (else base64), cut at
    :data:`DEADLETTER_MAX_RAW_BYTES` so that a dead letter always fits in a Kafka message.

    Examples
    --------
    >>> letter = decode_deadletter(encode_deadletter(b'{"type": 1}', "unknown_type", "events[0].type",
    ...                                              topic="infersight.events", partition=0, offset=7))
    >>> letter.reason, letter.offset, letter.raw_input(), letter.truncated
    ('unknown_type', 7, b'{"type": 1}', False)
    """
    kept = bytes(raw[:DEADLETTER_MAX_RAW_BYTES])
    try:
        text, encoding = kept.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    letter = DeadLetterMessage(
        reason=reason,
        detail=detail,
        topic=topic,
        partition=partition,
        offset=offset,
        raw=text,
        raw_encoding=encoding,  # type: ignore[arg-type]
        raw_bytes=len(raw),
        truncated=len(kept) < len(raw),
        dead_lettered_at=datetime.now(UTC),
    )
    return msgspec.json.encode(letter)


def decode_deadletter(data: bytes) -> DeadLetterMessage:
    """Read a dead letter written by :func:`encode_deadletter` (raises ``msgspec.DecodeError``)."""
    return _deadletter_decoder.decode(data)
