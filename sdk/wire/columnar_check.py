"""The slow path of ``infersight.events/v2``: something in the batch is bad; find what.

Each event of a block is put back together as the v1 event it stands for and judged by the v1
rules (:func:`infersight.sdk.wire.codec.decode_event`), so a v2 event is refused with the same
reason as the same event in v1, and its dead letter holds that v1 event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import msgspec
from infersight.sdk.wire.codec import (
    _decode_event_by_event,
    _diagnose_envelope,
    decode_event,
    unknown_schema,
)
from infersight.sdk.wire.columnar import LabelBlock, NonNegative, PredictionBlock, _sound
from infersight.sdk.wire.events import (
    MAX_FEATURES,
    MAX_NAME_CHARS,
    MAX_TAGS,
    MAX_USAGE_KEYS,
    SCHEMA,
    SCHEMA_V2,
    DecodedBatch,
    FeatureValue,
    Label,
    LabelValue,
    Name,
    Prediction,
    PredictionValue,
    Rejected,
    Text,
    Timestamp,
    TokenCount,
)
from infersight.sdk.wire.explain import kind_of, quote


class _RawBatch(msgspec.Struct, gc=False):
    schema: str
    predictions: list[msgspec.Raw] = []
    labels: list[msgspec.Raw] = []


_raw_batch_decoder: Final = msgspec.json.Decoder(_RawBatch)
_object_decoder: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
_array_decoder: Final = msgspec.json.Decoder(list[msgspec.Raw])
_NULL: Final = b"null"

_KINDS: Final = {
    "predictions": ("prediction", ("model", "version"), ("prediction_id", "ts", "prediction"),
                    ("latency_ms", "error", "ttft_ms"), ("features",), ("tags", "usage")),
    "labels": ("label", ("model",), ("prediction_id", "label", "ts"), (), (), ()),
}  # fmt: skip
"""Per block kind: event type, scalars, required columns, optional columns (null allowed),
required and optional maps of columns."""


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail


def decode_event_by_event(data: bytes) -> DecodedBatch:
    """Keep the good events of a v2 message and explain the bad ones (or the message)."""
    try:
        batch = _raw_batch_decoder.decode(data)
        schema, blocks = batch.schema, {"predictions": batch.predictions, "labels": batch.labels}
    except msgspec.DecodeError:
        diagnosis = _diagnose_envelope(data, required=("schema",),
                                       arrays=("predictions", "labels"))
        if isinstance(diagnosis, DecodedBatch):
            return diagnosis
        schema, blocks = diagnosis
    if schema == SCHEMA:  # "infersight.events/v2" was in the first bytes, but not as the schema
        return _decode_event_by_event(data)
    if schema != SCHEMA_V2:
        return unknown_schema(data, schema)
    result = DecodedBatch()
    index = 0
    for kind in ("predictions", "labels"):
        for number, raw in enumerate(blocks.get(kind, [])):
            index = _block(result, kind, f"{kind}[{number}]", bytes(raw), index)
    return result


def _block(result: DecodedBatch, kind: str, where: str, raw: bytes, index: int) -> int:
    """Add a block's good events to ``result`` and its refusals; the next event's index."""
    event_type, scalars, required, optional, maps, optional_maps = _KINDS[kind]
    count = 1
    try:
        try:
            block = _object_decoder.decode(raw)
        except msgspec.ValidationError:
            raise _Refused("wrong_type", f"{where}: expected object, got {kind_of(raw)}") from None
        for name in (*scalars, *required, *maps):
            if name not in block:
                raise _Refused("missing_field", f"{where}.{name}: required field is missing")
        columns = {name: _array(block[name], f"{where}.{name}") for name in required}
        count = len(columns["prediction_id"])
        for name in optional:
            if name in block and bytes(block[name]) != _NULL:
                columns[name] = _array(block[name], f"{where}.{name}")
        named = {name: _columns(block[name], f"{where}.{name}")
                 for name in (*maps, *optional_maps) if name in block}  # fmt: skip
        for name, column in (*columns.items(), *((f"{m}[{quote(k)}]", c) for m, cols in
                                                  named.items() for k, c in cols.items())):
            if len(column) != count:
                raise _Refused("invalid_value", f"{where}.{name}: {len(column)} entries, but "
                                                f"prediction_id has {count}")
    except _Refused as refused:
        result.rejected.append(Rejected(index, refused.reason, refused.detail, raw))
        return index + count
    suspects, typed = _suspects(kind, block, columns, named, count)
    rows: Iterator[Prediction | Label] = iter(())
    if typed is not None and len(suspects) < count:
        good = _good_rows(kind, typed, sorted(suspects, reverse=True))
        if good is None:
            suspects = set(range(count))
        else:
            rows = iter(good)
    head = b'{"type":"' + event_type.encode() + b'"' + b"".join(
        b',"' + name.encode() + b'":' + bytes(block[name]) for name in scalars)
    for i in range(count):
        if i in suspects:
            parts = [head]
            parts.extend(b',"' + name.encode() + b'":' + bytes(column[i])
                         for name, column in columns.items())  # fmt: skip
            for name, cols in named.items():
                entries = [msgspec.json.encode(key) + b":" + bytes(column[i])
                           for key, column in cols.items()
                           if name in maps or bytes(column[i]) != _NULL]  # fmt: skip
                parts.append(b',"' + name.encode() + b'":{' + b",".join(entries) + b"}")
            event_raw = b"".join(parts) + b"}"
            outcome: Prediction | Label | tuple[str, str] = decode_event(event_raw)
        else:
            outcome = next(rows)
        if isinstance(outcome, tuple):
            reason, detail = outcome
            result.rejected.append(Rejected(index + i, reason, f"{where}[{i}]{detail}", event_raw))
        elif isinstance(outcome, Label):
            result.labels.append(outcome)
        else:
            result.predictions.append(outcome)
    return index + count


_ENTRY_TYPES: Final[dict[str, Any]] = {
    "prediction_id": Name, "ts": Timestamp, "prediction": PredictionValue,
    "latency_ms": NonNegative | None, "error": Name | None, "ttft_ms": NonNegative | None,
    "label": LabelValue, "features": FeatureValue, "tags": Text | None, "usage": TokenCount | None,
}  # fmt: skip
_CHECKS: Final = {name: (msgspec.json.Decoder(list[kind]), msgspec.json.Decoder(kind))  # type: ignore[valid-type]
                  for name, kind in _ENTRY_TYPES.items()}  # fmt: skip
_name_decoder: Final = msgspec.json.Decoder(Name)
_LIMITS: Final = {"features": MAX_FEATURES, "tags": MAX_TAGS, "usage": MAX_USAGE_KEYS}


def _suspects(
    kind: str, block: dict[str, msgspec.Raw], columns: dict[str, list[msgspec.Raw]],
    named: dict[str, dict[str, list[msgspec.Raw]]], count: int,
) -> tuple[set[int], dict[str, Any] | None]:
    """The events that may be bad (to be judged one by one), and the typed fields of the
    block (a suspect's entries ``None``). A bad scalar, map name or too many columns in a map
    makes every event of the block suspect."""
    everything = set(range(count))
    typed: dict[str, Any] = {}
    try:
        for name in _KINDS[kind][1]:
            typed[name] = _name_decoder.decode(block[name])
    except msgspec.ValidationError:
        return everything, None
    for name, cols in named.items():
        if len(cols) > _LIMITS[name] or any(not 0 < len(k) <= MAX_NAME_CHARS for k in cols):
            return everything, None
    bad: set[int] = set()
    for name, column in columns.items():
        typed[name] = _entries(block[name], column, name, bad)
    for name, cols in named.items():
        typed[name] = {key: _entries(raw_column, cols[key], name, bad)
                       for key, raw_column in _object_decoder.decode(block[name]).items()}
    return bad, typed


def _entries(raw_column: msgspec.Raw, entries: list[msgspec.Raw], name: str,
             bad: set[int]) -> list[Any]:
    """A column's typed entries; the index of each entry that is not valid goes in ``bad``."""
    whole, one = _CHECKS[name]
    try:
        values: list[Any] = whole.decode(raw_column)
        return values
    except msgspec.ValidationError:
        pass
    values = []
    for i, entry in enumerate(entries):
        try:
            values.append(one.decode(entry))
        except msgspec.ValidationError:
            values.append(None)
            bad.add(i)
    return values


def _good_rows(kind: str, typed: dict[str, Any], suspects: list[int]
               ) -> list[Prediction] | list[Label] | None:
    """The rows of the block but ``suspects`` (in decreasing order), or None when they do not
    make a sound block after all (then every event is judged alone)."""
    for _name, value in typed.items():
        for column in value.values() if isinstance(value, dict) else (value,):
            if isinstance(column, list):
                for i in suspects:
                    del column[i]
    block: PredictionBlock | LabelBlock = (
        PredictionBlock(**typed) if kind == "predictions" else LabelBlock(**typed))
    if not _sound(block):
        return None
    rows: list[Prediction] | list[Label] = block.rows()
    return rows


def _array(raw: msgspec.Raw, where: str) -> list[msgspec.Raw]:
    try:
        return _array_decoder.decode(raw)
    except msgspec.ValidationError:
        raise _Refused("wrong_type", f"{where}: expected array, got {kind_of(raw)}") from None


def _columns(raw: msgspec.Raw, where: str) -> dict[str, list[msgspec.Raw]]:
    try:
        named = _object_decoder.decode(raw)
    except msgspec.ValidationError:
        raise _Refused("wrong_type", f"{where}: expected object, got {kind_of(raw)}") from None
    return {key: _array(column, f"{where}[{quote(key)}]") for key, column in named.items()}

