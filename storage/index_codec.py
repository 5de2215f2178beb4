"""The compact form of a prediction-index row: the key's hash and the stored values.

A prediction is found by ``key_hash``: the first 8 bytes of SHA-256 over ``model``, a NUL
byte and ``prediction_id`` (UTF-8), read as a signed big-endian 64-bit integer, the same in
Python (:func:`key_hash`) and in Postgres SQL (:data:`KEY_HASH_SQL`, to find a prediction
by its id by hand). A prediction that is a single float (a score, a regression output) is
kept in ``score`` as a 32-bit float (about 7 significant digits); any other value (a class,
probabilities) in ``value`` as MessagePack, exactly; labels are MessagePack too. A row held
for the reference bootstrap stores only :data:`HELD` (its event is in ``held_predictions``).

>>> key_hash("fraud", "p-1") == key_hash("fraud", "p-1") != key_hash("fraud", "p-2")
True
>>> split_prediction(0.25), split_prediction(1), split_prediction({"a": 0.1})
((0.25, None), (None, b'\\x01'), (None, b'\\x81\\xa1a\\xcb?\\xb9\\x99\\x99\\x99\\x99\\x99\\x9a'))
>>> join_prediction(0.25, None), join_prediction(None, b"\\x01"), join_prediction(None, HELD)
(0.25, 1, {'infersight_bootstrap_event': True})
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import msgspec

HELD = b"\xc1"
"""The stored prediction of a held row (0xC1 is never a MessagePack value)."""

HELD_VALUE: dict[str, Any] = {"infersight_bootstrap_event": True}
"""What a held row's prediction reads as (the bootstrap marker key, no event)."""

_FLOAT32_MAX = 3.4e38

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()

KEY_HASH_SQL = (
    "('x' || encode(substring(sha256(convert_to({model}, 'UTF8') || '\\x00'::bytea || "
    "convert_to({prediction_id}, 'UTF8')) from 1 for 8), 'hex'))::bit(64)::bigint"
)
"""Postgres expression of :func:`key_hash` (format with the two column expressions)."""


def key_hash(model: str, prediction_id: str) -> int:
    """The signed 64-bit hash that identifies ``(model, prediction_id)`` in the index."""
    digest = hashlib.sha256(model.encode() + b"\x00" + prediction_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def split_prediction(value: Any) -> tuple[float | None, bytes | None]:
    """A prediction as its stored ``(score, value)``: a float in ``score``, else MessagePack."""
    if type(value) is float and abs(value) <= _FLOAT32_MAX:
        return value, None
    return None, _encoder.encode(value)


def as_float32(score: float) -> float:
    """``score`` rounded to 32 bits, as every backend stores it (SQLite's ``REAL`` has 64)."""
    return float(struct.unpack(">f", struct.pack(">f", score))[0])


def join_prediction(score: float | None, value: bytes | None) -> Any:
    """The stored ``(score, value)`` back as the prediction (a held row as :data:`HELD_VALUE`)."""
    if score is not None:
        return as_float32(score)  # drivers read ``real`` as the shortest decimal, or exactly
    assert value is not None
    return decode_value(value)


def encode_label(value: Any) -> bytes:
    """A label in its stored form (MessagePack, exact)."""
    return _encoder.encode(value)


def decode_value(data: bytes) -> Any:
    """A stored prediction or label back as builtins (a held row's marker as :data:`HELD_VALUE`)."""
    if data == HELD:
        return dict(HELD_VALUE)
    return _decoder.decode(data)
