"""``infersight.events/v2``: the columnar batch (docs/wire-format.md, "Columnar batches").

A v2 batch says what a v1 batch says, in blocks of columns: one block per (model, version) of
predictions, one per model of labels, each field an array with one entry per event, features
as ``{name: [values…]}``. Parsing columns of numbers is about twice as fast as parsing one
object per event, and the message is about 40 % smaller. Every event is validated by the
same rules as in v1 and refused alone with the same reason.

Examples
--------
>>> from datetime import datetime, timezone
>>> event = Prediction(model="fraud", version="3", prediction_id="p-1",
...                    ts=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
...                    features={"amount": 12.5, "country": "DE"}, prediction=0.93)
>>> encode_batch_v2([event])
b'{"schema":"infersight.events/v2","predictions":[{"model":"fraud","version":"3","prediction_id":["p-1"],"ts":["2024-05-01T12:00:00Z"],"features":{"amount":[12.5],"country":["DE"]},"prediction":[0.93]}]}'
>>> decode_columns(encode_batch_v2([event])).predictions[0].features
{'amount': [12.5], 'country': ['DE']}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import itemgetter
from typing import Annotated, Any, Final

import msgspec
from infersight.sdk.wire.events import (
    MAX_FEATURES,
    MAX_MESSAGE_BYTES,
    MAX_TAGS,
    MAX_USAGE_KEYS,
    SCHEMA_V2,
    FeatureValue,
    Label,
    LabelValue,
    Name,
    Prediction,
    PredictionValue,
    Rejected,
    ScoredLabel,
    Text,
    Timestamp,
    TokenCount,
)

NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]


class PredictionBlock(msgspec.Struct, gc=False, omit_defaults=True):
    """The predictions of one (model, version), one array entry per event.

    Optional columns are absent when no event has a value; ``null`` in a column is the
    event's missing value (a feature), or its absent entry (a tag, a usage count).

    Examples
    --------
    >>> block = PredictionBlock(model="m", version="1", prediction_id=["a", "b"],
    ...     ts=[datetime(2024, 1, 1, tzinfo=UTC)] * 2, features={"x": [1.0, None]},
    ...     prediction=[0.2, 0.9], tags={"region": ["eu", None]})
    >>> [p.tags for p in block.rows()]
    [{'region': 'eu'}, {}]
    """

    model: Name
    version: Name
    prediction_id: list[Name]
    ts: list[Timestamp]
    # Names are checked after decoding, once per block (codec._bad_feature_name).
    features: Annotated[dict[str, list[FeatureValue]], msgspec.Meta(max_length=MAX_FEATURES)]
    prediction: list[PredictionValue]
    latency_ms: list[NonNegative | None] | None = None
    tags: Annotated[dict[Name, list[Text | None]], msgspec.Meta(max_length=MAX_TAGS)] = {}
    error: list[Name | None] | None = None
    usage: Annotated[
        dict[Name, list[TokenCount | None]], msgspec.Meta(max_length=MAX_USAGE_KEYS)
    ] = {}
    ttft_ms: list[NonNegative | None] | None = None

    def __len__(self) -> int:
        return len(self.prediction_id)

    def rows(self) -> list[Prediction]:
        """The block's events as :class:`Prediction` rows (features absent → ``None``)."""
        n = len(self.prediction_id)
        names = tuple(self.features)
        features: Iterable[dict[str, FeatureValue]] = (
            map(dict, map(zip, repeat(names, n), zip(*self.features.values(), strict=True)))
            if names else ({} for _ in range(n)))  # fmt: skip
        columns: list[Iterable[Any]] = [
            repeat(self.model, n), repeat(self.version, n), self.prediction_id, self.ts,
            features, self.prediction, self.latency_ms or repeat(None, n),
        ]  # fmt: skip
        optional: list[Iterable[Any]] = [
            _entries(self.tags, n), self.error or repeat(None, n), _entries(self.usage, n),
            self.ttft_ms or repeat(None, n),
        ]  # fmt: skip
        present = [bool(self.tags), self.error is not None, bool(self.usage),
                   self.ttft_ms is not None]  # fmt: skip
        if any(present):
            last = max(i for i, here in enumerate(present) if here)
            columns.extend(optional[: last + 1])
        return list(map(Prediction, *columns))


class LabelBlock(msgspec.Struct, gc=False):
    """The labels of one model, one array entry per event.

    Examples
    --------
    >>> LabelBlock(model="m", prediction_id=["a"], label=[1],
    ...            ts=[datetime(2024, 1, 1, tzinfo=UTC)]).rows()[0].label
    1
    """

    model: Name
    prediction_id: list[Name]
    label: list[LabelValue]
    ts: list[Timestamp]

    def __len__(self) -> int:
        return len(self.prediction_id)

    def rows(self) -> list[Label]:
        """The block's events as :class:`Label` rows."""
        n = len(self.prediction_id)
        return list(map(Label, repeat(self.model, n), self.prediction_id, self.label, self.ts))


def _entries(columns: dict[str, list[Any]], n: int) -> Iterable[dict[str, Any]]:
    """Per-event maps of named columns, without the ``null`` entries."""
    if not columns:
        return ({} for _ in range(n))
    names = tuple(columns)
    if not any(None in column for column in columns.values()):
        return map(dict, map(zip, repeat(names, n), zip(*columns.values(), strict=True)))
    return ({k: v for k, v in zip(names, row, strict=True) if v is not None}
            for row in zip(*columns.values(), strict=True))  # fmt: skip


class BatchV2(msgspec.Struct, gc=False):
    """One ``infersight.events/v2`` message: prediction blocks, then label blocks."""

    schema: str
    predictions: list[PredictionBlock] = []
    labels: list[LabelBlock] = []


@dataclass(slots=True)
class ColumnarBatch:
    """The outcome of :func:`decode_columns`: the good events in blocks, and the rejected ones."""

    predictions: list[PredictionBlock] = field(default_factory=list)
    labels: list[LabelBlock] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


# -- encoding -------------------------------------------------------------------------------------


def _mapping(event: Any) -> Mapping[str, Any]:
    return msgspec.structs.asdict(event) if isinstance(event, Prediction | Label) else event


def _column_map(maps: list[Any]) -> dict[str, list[Any]]:
    """``{key: [each map's value or None]}`` of per-event maps, keys in first-seen order."""
    if not maps or not any(maps):
        return {}
    names = tuple(maps[0])
    if names and set(map(len, maps)) == {len(names)}:  # the usual case: the same keys in each
        try:
            if len(names) == 1:
                return {names[0]: [m[names[0]] for m in maps]}
            return dict(zip(names, map(list, zip(*map(itemgetter(*names), maps), strict=False)), strict=True))
        except KeyError:
            pass
    keys: dict[str, None] = {}
    for m in maps:
        keys.update(dict.fromkeys(m))
    return {key: [m.get(key) for m in maps] for key in keys}


def _optional(values: list[Any]) -> list[Any] | None:
    return values if any(v is not None for v in values) else None


def prediction_blocks(events: Sequence[Any]) -> list[PredictionBlock]:
    """Predictions (structs, or mappings in wire shape) in blocks, one per (model, version),
    in order of first appearance; an event's order within its block is kept.

    Examples
    --------
    >>> [(b.model, b.prediction_id) for b in prediction_blocks([
    ...     {"model": "m", "version": "1", "prediction_id": "a", "ts": "2024-01-01T00:00:00Z",
    ...      "features": {}, "prediction": 1}])]
    [('m', ['a'])]
    """
    groups: dict[tuple[Any, Any], list[Mapping[str, Any]]] = {}
    for event in map(_mapping, events):
        groups.setdefault((event.get("model"), event.get("version")), []).append(event)
    blocks = []
    for (model, version), group in groups.items():
        column = {name: [e.get(name) for e in group] for name in _FIELDS}
        blocks.append(PredictionBlock(
            model=model, version=version, prediction_id=column["prediction_id"],
            ts=column["ts"], features=_column_map([m or {} for m in column["features"]]),
            prediction=column["prediction"], latency_ms=_optional(column["latency_ms"]),
            tags=_column_map(column["tags"]), error=_optional(column["error"]),
            usage=_column_map(column["usage"]), ttft_ms=_optional(column["ttft_ms"]),
        ))  # fmt: skip
    return blocks


_FIELDS: Final = ("prediction_id", "ts", "features", "prediction", "latency_ms", "tags", "error",
                  "usage", "ttft_ms")  # fmt: skip


def label_blocks(events: Sequence[Any]) -> list[LabelBlock]:
    """Labels (structs or mappings) in blocks, one per model, in order of first appearance.

    >>> [(b.model, b.label) for b in label_blocks([
    ...     {"model": "m", "prediction_id": "a", "label": 1, "ts": "2024-01-01T00:00:00Z"},
    ...     {"model": "n", "prediction_id": "b", "label": 0, "ts": "2024-01-01T00:00:00Z"}])]
    [('m', [1]), ('n', [0])]
    """
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for event in map(_mapping, events):
        groups.setdefault(event.get("model"), []).append(event)
    return [
        LabelBlock(model=model, prediction_id=[e.get("prediction_id") for e in group],
                   label=[e.get("label") for e in group], ts=[e.get("ts") for e in group])
        for model, group in groups.items()
    ]  # fmt: skip


def encode_batch_v2(events: Sequence[Mapping[str, Any] | Prediction | Label]) -> bytes:
    """Encode events (structs, or mappings in wire shape with a ``"type"``) as one v2 message.

    Like :func:`~infersight.sdk.wire.encode_batch`: non-finite floats are written as ``null``,
    and only what cannot be written faithfully is refused.

    Raises
    ------
    ValueError
        An event's ``ts`` is a naive ``datetime``.
    TypeError
        A value JSON cannot represent.

    Examples
    --------
    >>> encode_batch_v2([{"type": "label", "model": "m", "prediction_id": "a", "label": True,
    ...                   "ts": "2024-01-01T00:00:00Z"}])
    b'{"schema":"infersight.events/v2","labels":[{"model":"m","prediction_id":["a"],"label":[true],"ts":["2024-01-01T00:00:00Z"]}]}'
    """
    from infersight.sdk.wire.codec import _encoder

    predictions: list[Any] = []
    labels: list[Any] = []
    for index, event in enumerate(events):
        ts = event.ts if isinstance(event, Prediction | Label) else event.get("ts")
        if isinstance(ts, datetime) and ts.utcoffset() is None:
            raise ValueError(f"events[{index}].ts: naive datetime {ts}; give it a timezone")
        kind = "label" if isinstance(event, Label) else (
            "prediction" if isinstance(event, Prediction) else event.get("type"))
        (labels if kind == "label" else predictions).append(event)
    document: dict[str, Any] = {"schema": SCHEMA_V2}
    if predictions:
        document["predictions"] = prediction_blocks(predictions)
    if labels:
        document["labels"] = label_blocks(labels)
    return bytes(_encoder.encode(document))


def as_v1_events(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of a parsed v2 document as v1 event objects (JSON values as they are, no
    validation): what the batch says, in the shape of ``{"events": [...]}``.

    Examples
    --------
    >>> as_v1_events({"schema": "infersight.events/v2", "labels": [{"model": "m",
    ...     "prediction_id": ["a"], "label": [1], "ts": ["2024-01-01T00:00:00Z"]}]})
    [{'type': 'label', 'model': 'm', 'prediction_id': 'a', 'label': 1, 'ts': '2024-01-01T00:00:00Z'}]
    """
    events: list[dict[str, Any]] = []
    for block in document.get("predictions", []):
        for i in range(len(block["prediction_id"])):
            event = {"type": "prediction", "model": block["model"], "version": block["version"]}
            event |= {name: block[name][i] for name in _FIELDS
                      if name in block and name not in ("features", "tags", "usage")}
            event["features"] = {k: v[i] for k, v in block.get("features", {}).items()}
            for name in ("tags", "usage"):
                if name in block:
                    event[name] = {k: v[i] for k, v in block[name].items() if v[i] is not None}
            events.append(event)
    for block in document.get("labels", []):
        events.extend({"type": "label", "model": block["model"], "prediction_id": pid,
                       "label": label, "ts": ts}
                      for pid, label, ts in zip(block["prediction_id"], block["label"],
                                                block["ts"], strict=True))  # fmt: skip
    return events


# -- decoding -------------------------------------------------------------------------------------

_batch_decoder: Final = msgspec.json.Decoder(BatchV2)
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def _sound(block: PredictionBlock | LabelBlock) -> bool:
    """Whether a typed block needs no event-by-event look: equal column lengths, good names,
    UTC timestamps (converted here) and 64-bit integers only."""
    n = len(block.prediction_id)
    if len(block.ts) != n:
        return False
    if isinstance(block, PredictionBlock):
        from infersight.sdk.wire.codec import _bad_feature_name, _checked_names

        lengths = {len(block.prediction), *map(len, block.features.values()),
                   *map(len, block.tags.values()), *map(len, block.usage.values())}
        for column in (block.latency_ms, block.error, block.ttft_ms):
            if column is not None:
                lengths.add(len(column))
        if lengths - {n}:
            return False
        if not _checked_names.issuperset(block.features) and (
                _bad_feature_name(block.features) is not None):
            return False
        values: list[Any] = block.prediction
    else:
        if len(block.label) != n:
            return False
        values = block.label
    if int in set(map(type, values)) or ScoredLabel in set(map(type, values)):
        for value in values:
            if type(value) is ScoredLabel:
                value = value.label
            if type(value) is int and not _INT64_MIN <= value <= _INT64_MAX:
                return False
    ts = block.ts
    if any(t.tzinfo is not UTC for t in ts):
        try:
            block.ts = [t if t.tzinfo is UTC else t.astimezone(UTC) for t in ts]
        except OverflowError:
            return False
    return True


def decode_typed(data: bytes) -> BatchV2 | None:
    """The fast path: the whole batch typed and sound, or None (look event by event).

    >>> decode_typed(b'{"schema": "infersight.events/v2", "labels": [{"model": "m",'
    ...              b' "prediction_id": ["a", "b"], "label": [1], "ts": []}]}') is None
    True
    """
    try:
        batch = _batch_decoder.decode(data)
    except msgspec.MsgspecError:
        return None
    if batch.schema != SCHEMA_V2:
        return None
    blocks: list[PredictionBlock | LabelBlock] = [*batch.predictions, *batch.labels]
    if not all(map(_sound, blocks)):
        return None
    return batch


def decode_columns(data: bytes | str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> ColumnarBatch:
    """Decode a v1 or v2 message into blocks of columns, keeping every valid event; never raises.

    A well-formed v2 batch comes back as its own columns, no row built; anything else (v1, or
    a v2 batch with a refused event) goes through :func:`~infersight.sdk.wire.decode_batch`
    and its good events are put in blocks.

    Examples
    --------
    >>> batch = decode_columns(b'{"schema": "infersight.events/v2", "labels": [{"model": "m",'
    ...     b' "prediction_id": ["a", "b"], "label": [1, 0], "ts": ["2024-01-01T00:00:00Z", "x"]}]}')
    >>> batch.labels[0].prediction_id, batch.rejected[0].reason
    (['a'], 'invalid_timestamp')
    """
    from infersight.sdk.wire.codec import decode_batch

    if isinstance(data, bytes) and len(data) <= max_bytes and is_v2(data):
        typed = decode_typed(data)
        if typed is not None:
            return ColumnarBatch(typed.predictions, typed.labels)
    rows = decode_batch(data, max_bytes=max_bytes)
    return ColumnarBatch(prediction_blocks(rows.predictions), label_blocks(rows.labels),
                         rows.rejected)


_V2_MARK: Final = b'"infersight.events/v2"'


def is_v2(data: bytes) -> bool:
    """Whether the message names ``infersight.events/v2`` where producers put ``schema``: first.

    >>> is_v2(b'{"schema": "infersight.events/v2", "predictions": []}'), is_v2(b'{"events": []}')
    (True, False)
    """
    return _V2_MARK in data[:64]
