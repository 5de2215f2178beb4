"""Encoding and decoding ``infersight.events`` batches (docs/wire-format.md).

:func:`decode_batch` reads v1 and v2 (columnar, :mod:`infersight.sdk.wire.columnar`) alike,
dispatching on the message's ``schema``; it validates every event, keeps the good ones and
explains each bad one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from infersight.sdk.wire.columnar import decode_typed, is_v2
from infersight.sdk.wire.events import (
    MAX_MESSAGE_BYTES,
    MAX_NAME_CHARS,
    SCHEMA,
    SCHEMA_V2,
    DecodedBatch,
    FeatureValue,
    Label,
    Prediction,
    Rejected,
    ScoredLabel,
)
from infersight.sdk.wire.explain import explain, kind_of, quote


class _Batch(msgspec.Struct, gc=False):
    schema: str
    events: list[Prediction | Label]


class _RawBatch(msgspec.Struct, gc=False):
    schema: str
    events: list[msgspec.Raw]


class _Envelope(msgspec.Struct):
    schema: str
    events: Sequence[Mapping[str, Any] | Prediction | Label]



_batch_decoder: Final = msgspec.json.Decoder(_Batch)
_event_decoder: Final = msgspec.json.Decoder(Prediction | Label)
_raw_batch_decoder: Final = msgspec.json.Decoder(_RawBatch)
_object_decoder: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
_array_decoder: Final = msgspec.json.Decoder(list[msgspec.Raw])
_string_decoder: Final = msgspec.json.Decoder(str)
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

def _to_builtins(obj: Any) -> Any:
    """Encode other mappings, and numpy-like scalars and arrays without importing numpy."""
    if isinstance(obj, Mapping):
        return dict(obj)
    for method in ("tolist", "item"):
        convert = getattr(obj, method, None)
        if callable(convert):
            return convert()
    raise TypeError(f"cannot encode a {type(obj).__name__} in an event")


_encoder: Final = msgspec.json.Encoder(enc_hook=_to_builtins)


def encode_batch(events: Sequence[Mapping[str, Any] | Prediction | Label]) -> bytes:
    """Encode events (structs, or mappings in wire shape with a ``"type"``) as one batch message.

    Non-finite floats are written as ``null`` (a missing value). The decoder is the validator:
    this refuses only what it cannot write faithfully.

    Raises
    ------
    ValueError
        An event's ``ts`` is a naive ``datetime`` (the wire requires a UTC offset).
    TypeError
        A value JSON cannot represent.

    Examples
    --------
    >>> encode_batch([{"type": "label", "model": "m", "prediction_id": "a", "label": True,
    ...                "ts": "2024-01-01T00:00:00Z"}])
    b'{"schema":"infersight.events/v1","events":[{"type":"label","model":"m","prediction_id":"a","label":true,"ts":"2024-01-01T00:00:00Z"}]}'
    """
    for index, event in enumerate(events):
        ts = event.ts if isinstance(event, Prediction | Label) else event.get("ts")
        if isinstance(ts, datetime) and ts.utcoffset() is None:
            raise ValueError(f"events[{index}].ts: naive datetime {ts}; give it a timezone")
    listed = events if isinstance(events, list | tuple) else list(events)
    return _encoder.encode(_Envelope(SCHEMA, listed))


def decode_batch(data: bytes | str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> DecodedBatch:
    """Decode one batch message, keeping every valid event; never raises.

    Timestamps come back in UTC. Each refused event (or the whole message) is a :class:`Rejected`
    with one of :data:`REASONS`, a detail naming the field, and its raw bytes for dead-lettering.

    Examples
    --------
    >>> batch = decode_batch(b'{"schema": "infersight.events/v1", "events": ['
    ...     b'{"type": "label", "model": "m", "prediction_id": "a", "label": 1, "ts": "2024-01-01T02:00:00+02:00"},'
    ...     b'{"type": "label", "model": "m", "prediction_id": "b", "label": 1, "ts": "yesterday"}]}')
    >>> batch.labels[0].ts.isoformat()
    '2024-01-01T00:00:00+00:00'
    >>> batch.rejected[0].index, batch.rejected[0].reason, batch.rejected[0].detail
    (1, 'invalid_timestamp', 'events[1].ts: expected an RFC 3339 timestamp with a UTC offset (Z or ±hh:mm)')
    >>> decode_batch(b"[1, 2]").rejected[0].detail
    'message: expected object, got array'
    """
    try:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        elif isinstance(data, bytearray | memoryview):
            data = bytes(data)
        elif not isinstance(data, bytes):
            detail = f"message: expected bytes or str, got {type(data).__name__}"
            return _reject_message(repr(data).encode(), "not_a_batch", detail)
        if len(data) > max_bytes:
            detail = f"message of {len(data)} bytes exceeds the limit of {max_bytes}"
            return _reject_message(data, "oversize", detail)
        if is_v2(data):
            return _decode_v2(data)
        try:
            batch = _batch_decoder.decode(data)
        except msgspec.MsgspecError:
            return _decode_event_by_event(data)
        if batch.schema != SCHEMA:
            return _decode_v2(data) if batch.schema == SCHEMA_V2 else unknown_schema(
                data, batch.schema)
        predictions: list[Prediction] = []
        labels: list[Label] = []
        checked_names = _checked_names
        # The hot loop: keep it lean; leave every rare case to the slow path.
        try:
            for event in batch.events:
                if event.ts.tzinfo is not UTC:
                    event.ts = event.ts.astimezone(UTC)
                if type(event) is Prediction:
                    value = event.prediction
                    if type(value) is ScoredLabel:
                        value = value.label
                    if (type(value) is int and not _INT64_MIN <= value <= _INT64_MAX) or (
                        not checked_names.issuperset(event.features)
                        and _bad_feature_name(event.features) is not None
                    ):
                        return _decode_event_by_event(data)
                    predictions.append(event)
                else:
                    assert type(event) is Label
                    if type(event.label) is int and not _INT64_MIN <= event.label <= _INT64_MAX:
                        return _decode_event_by_event(data)
                    labels.append(event)
        except OverflowError:  # a timestamp near year 1 or 9999 that leaves the range in UTC
            return _decode_event_by_event(data)
        return DecodedBatch(predictions, labels)
    except Exception as error:  # a bug must not stop a consumer: say so, and dead-letter the input
        raw = data if isinstance(data, bytes) else repr(data).encode()
        if type(error) is msgspec.DecodeError:  # bytes skipped unread at first, e.g. not UTF-8
            return _reject_message(raw, "invalid_json", _invalid_json_detail(raw, str(error)))
        return _reject_message(raw, "invalid_value", f"undecodable message ({error!r})")




_checked_names: set[str] = set()  # feature names found valid: most events repeat the same ones
_CHECKED_NAMES_MAX: Final = 65_536


def _bad_feature_name(features: dict[str, FeatureValue]) -> str | None:
    """The first feature name that is empty or longer than ``MAX_NAME_CHARS``, if any."""
    for name in features:
        if not 0 < len(name) <= MAX_NAME_CHARS:
            return name
    if len(_checked_names) > _CHECKED_NAMES_MAX:
        _checked_names.clear()
    _checked_names.update(features)
    return None


def _reject_message(raw: bytes, reason: str, detail: str) -> DecodedBatch:
    return DecodedBatch(rejected=[Rejected(None, reason, detail, raw)])


def unknown_schema(data: bytes, schema: str) -> DecodedBatch:
    """The refusal of a message whose ``schema`` is neither v1 nor v2."""
    return _reject_message(
        data, "unknown_schema", f"schema {schema!r} is not {SCHEMA!r} or {SCHEMA_V2!r}")


def _decode_v2(data: bytes) -> DecodedBatch:
    typed = decode_typed(data)
    if typed is None:
        from infersight.sdk.wire.columnar_check import decode_event_by_event

        return decode_event_by_event(data)
    result = DecodedBatch()
    for block in typed.predictions:
        result.predictions.extend(block.rows())
    for labels in typed.labels:
        result.labels.extend(labels.rows())
    return result


def decode_event(raw: bytes | msgspec.Raw) -> Prediction | Label | tuple[str, str]:
    """One v1 event, or why it is refused: (reason, detail from the event's own fields on)."""
    try:
        event = _event_decoder.decode(raw)
        problem = _finish(event)
    except msgspec.ValidationError as error:
        problem = explain(bytes(raw), str(error))
    return event if problem is None else problem


def _decode_event_by_event(data: bytes) -> DecodedBatch:
    """The slow path: something in the message is bad; find what, and keep the good events."""
    try:  # the usual case: a well-formed batch with some bad events
        batch = _raw_batch_decoder.decode(data)
        schema, events = batch.schema, batch.events
    except msgspec.DecodeError:
        diagnosis = _diagnose_envelope(data, required=("schema", "events"), arrays=("events",))
        if isinstance(diagnosis, DecodedBatch):
            return diagnosis
        schema, arrays = diagnosis
        events = arrays.get("events", [])
    if schema != SCHEMA:
        if schema == SCHEMA_V2:
            return _decode_v2(data)
        return unknown_schema(data, schema)
    result = DecodedBatch()
    for index, raw in enumerate(events):
        outcome = decode_event(raw)
        if isinstance(outcome, tuple):
            reason, detail = outcome
            result.rejected.append(Rejected(index, reason, f"events[{index}]{detail}", bytes(raw)))
        elif isinstance(outcome, Prediction):
            result.predictions.append(outcome)
        else:
            result.labels.append(outcome)
    return result


def _diagnose_envelope(
    data: bytes, *, required: tuple[str, ...], arrays: tuple[str, ...]
) -> DecodedBatch | tuple[str, dict[str, list[msgspec.Raw]]]:
    """Why a message is not a batch; or its schema and its arrays (those present), if it is
    one after all. The schema is checked before the rest: it tells which layout to expect."""
    try:
        envelope = _object_decoder.decode(data)
    except msgspec.ValidationError:  # (a subclass of DecodeError: test it first)
        return _reject_message(data, "not_a_batch", f"message: expected object, got {kind_of(data)}")
    except msgspec.DecodeError as error:
        return _reject_message(data, "invalid_json", _invalid_json_detail(data, str(error)))
    if "schema" not in envelope:
        return _reject_message(data, "not_a_batch", "message.schema: required field is missing")
    try:
        schema = _string_decoder.decode(envelope["schema"])
    except msgspec.ValidationError:
        detail = f"message.schema: expected string, got {kind_of(envelope['schema'])}"
        return _reject_message(data, "not_a_batch", detail)
    if schema not in (SCHEMA, SCHEMA_V2):
        return unknown_schema(data, schema)
    if schema == SCHEMA_V2 and "events" in required:
        return schema, {}  # the caller hands a v2 message on
    for name in required:
        if name not in envelope:
            return _reject_message(
                data, "not_a_batch", f"message.{name}: required field is missing"
            )
    found: dict[str, list[msgspec.Raw]] = {}
    for name in arrays:
        if name in envelope:
            try:
                found[name] = _array_decoder.decode(envelope[name])
            except msgspec.ValidationError:
                detail = f"message.{name}: expected array, got {kind_of(envelope[name])}"
                return _reject_message(data, "not_a_batch", detail)
    return schema, found


_BYTE_AT = re.compile(r"\(byte (\d+)\)")
_NON_FINITE_LITERALS = (b"NaN", b"-Infinity", b"Infinity")


def _invalid_json_detail(data: bytes, error: str) -> str:
    """The decoder's message; for a ``NaN``/``Infinity`` literal (Python's ``json.dumps``
    writes them by default, JSON has none), what it is and what to send instead.

    >>> _invalid_json_detail(b'{"x": NaN}', "JSON is malformed: invalid character (byte 6)")
    'message: invalid JSON at byte 6: NaN is not a JSON value (Python json.dumps writes it unless allow_nan=False); send a missing value as null'
    """
    found = _BYTE_AT.search(error)
    if found is not None:
        at = int(found.group(1))
        for literal in _NON_FINITE_LITERALS:
            start = at - 1 if literal.startswith(b"-") and data[at - 1:at] == b"-" else at
            if data.startswith(literal, start):
                return (f"message: invalid JSON at byte {start}: {literal.decode()} is not a "
                        "JSON value (Python json.dumps writes it unless allow_nan=False); send "
                        "a missing value as null")
    return f"message: invalid JSON ({error})"


def _finish(event: Prediction | Label) -> tuple[str, str] | None:
    """Checks msgspec does not make; normalises the timestamp and 64-bit-overflowing integers."""
    try:
        if event.ts.tzinfo is not UTC:
            event.ts = event.ts.astimezone(UTC)
    except OverflowError:
        return "invalid_timestamp", ".ts: outside the years 0001-9999 once converted to UTC"
    if isinstance(event, Label):
        holder: Label | Prediction | ScoredLabel = event
        path, attribute = ".label", "label"
    else:
        known = _checked_names.issuperset(event.features)
        if not known and (name := _bad_feature_name(event.features)) is not None:
            problem = (
                ("must not be empty", "invalid_value")
                if not name
                else (f"more than {MAX_NAME_CHARS} characters", "limit_exceeded")
            )
            return problem[1], f".features[{quote(name)}] (name): {problem[0]}"
        holder, path, attribute = event, ".prediction", "prediction"
        if isinstance(event.prediction, ScoredLabel):
            holder, path, attribute = event.prediction, ".prediction.label", "label"
    value = getattr(holder, attribute)
    if type(value) is int and not _INT64_MIN <= value <= _INT64_MAX:
        try:
            setattr(holder, attribute, float(value))
        except OverflowError:
            return "non_finite", f"{path}: number beyond the finite double range"
    return None
