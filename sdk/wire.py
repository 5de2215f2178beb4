"""Wire format ``infersight.events/v1``: one JSON batch of events per message.

Producers write ``{"schema": "infersight.events/v1", "events": [...]}`` (docs/wire-format.md);
:func:`decode_batch` validates every event, keeps the good ones and explains each bad one.
Only the standard library and msgspec are imported: this module is part of the light SDK.

Examples
--------
>>> from datetime import datetime, timezone
>>> event = Prediction(model="fraud", version="3", prediction_id="p-1",
...                    ts=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
...                    features={"amount": 12.5, "country": "DE"}, prediction=0.93)
>>> batch = decode_batch(encode_batch([event]))
>>> batch.predictions == [event], batch.rejected
(True, [])
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

import msgspec

SCHEMA: Final = "infersight.events/v1"
EVENTS_TOPIC: Final = "infersight.events"
LABELS_TOPIC: Final = "infersight.labels"
DEADLETTER_TOPIC: Final = "infersight.deadletter"
DEADLETTER_SCHEMA: Final = "infersight.deadletter/v1"

MAX_MESSAGE_BYTES: Final = 1_000_000
"""A message bigger than this is rejected whole (reason ``oversize``)."""
MAX_FEATURES: Final = 1_000
MAX_TAGS: Final = 100
MAX_CLASSES: Final = 1_000
MAX_NAME_CHARS: Final = 256
"""Model, version, prediction id, error type, and feature, tag and class names."""
MAX_STRING_CHARS: Final = 4_096
"""String feature values, tag values and string labels."""
DEADLETTER_MAX_RAW_BYTES: Final = 512 * 1024
"""A dead letter keeps at most this many bytes of the offending input (``truncated`` says so)."""

REASONS: Final = (
    "invalid_json",  # not JSON, or not UTF-8
    "not_a_batch",  # not an object with "schema" (a string) and "events" (an array)
    "unknown_schema",  # "schema" is not infersight.events/v1
    "oversize",  # the message is bigger than max_bytes
    "wrong_type",  # a value of the wrong JSON type (an event that is not an object included)
    "missing_field",  # a required field is absent
    "unknown_type",  # "type" is neither "prediction" nor "label"
    "non_finite",  # a number beyond the finite double range (1e999 is JSON's way to write inf)
    "invalid_timestamp",  # not RFC 3339, or without a UTC offset
    "limit_exceeded",  # a string, map or array beyond the documented bounds
    "invalid_value",  # right type, wrong value: an empty id, a negative latency, a probability > 1
)
"""Every reason a :class:`Rejected` can carry."""

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_CHARS)]
_Text = Annotated[str, msgspec.Meta(max_length=MAX_STRING_CHARS)]
_Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
_Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
FeatureValue = float | _Text | bool | None
"""A feature value: numbers (integers are read as floats), strings, booleans; null = missing."""
LabelValue = _Text | int | float | bool
"""A class label or a target value. Integers beyond 64 bits are read as floats."""


class ScoredLabel(msgspec.Struct, gc=False, omit_defaults=True):
    """A class label with its score, or with every class's probability.

    Examples
    --------
    >>> msgspec.json.encode(ScoredLabel(label="spam", score={"spam": 0.8, "ham": 0.2}))
    b'{"label":"spam","score":{"spam":0.8,"ham":0.2}}'
    """

    label: LabelValue
    score: (
        float | Annotated[dict[_Name, _Probability], msgspec.Meta(max_length=MAX_CLASSES)] | None
    ) = None


PredictionValue = (
    float
    | int
    | _Text
    | bool
    | Annotated[list[_Probability], msgspec.Meta(max_length=MAX_CLASSES)]
    | ScoredLabel
    | None
)
"""A number, a class label, class probabilities, or a label with its score(s)."""


class Prediction(msgspec.Struct, tag_field="type", tag="prediction", gc=False, omit_defaults=True):
    """One monitored model call; ``error`` names the exception type of a call that raised.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> p = Prediction(model="m", version="1", prediction_id="a", features={"x": 1.0},
    ...                ts=datetime(2024, 1, 1, tzinfo=timezone.utc), prediction=[0.2, 0.8])
    >>> msgspec.json.encode(p)
    b'{"type":"prediction","model":"m","version":"1","prediction_id":"a","ts":"2024-01-01T00:00:00Z","features":{"x":1.0},"prediction":[0.2,0.8]}'
    """

    model: _Name
    version: _Name
    prediction_id: _Name
    ts: _Timestamp
    # Feature names are checked after decoding (_bad_feature_name): a length constraint on keys
    # here would bypass msgspec's key cache and cost a quarter of the decoding speed.
    features: Annotated[dict[str, FeatureValue], msgspec.Meta(max_length=MAX_FEATURES)]
    prediction: PredictionValue
    latency_ms: Annotated[float, msgspec.Meta(ge=0.0)] | None = None
    tags: Annotated[dict[_Name, _Text], msgspec.Meta(max_length=MAX_TAGS)] = {}
    error: _Name | None = None


class Label(msgspec.Struct, tag_field="type", tag="label", gc=False, omit_defaults=True):
    """The ground truth for an earlier prediction, joined on (model, prediction_id).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> Label(model="m", prediction_id="a", label=1, ts=datetime(2024, 1, 1, tzinfo=timezone.utc))
    Label(model='m', prediction_id='a', label=1, ts=datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))
    """

    model: _Name
    prediction_id: _Name
    label: LabelValue
    ts: _Timestamp


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why an event (``index``) or the whole message (``index is None``) was refused."""

    index: int | None
    reason: str
    detail: str
    raw: bytes


@dataclass(slots=True)
class DecodedBatch:
    """The outcome of :func:`decode_batch`: the good events by kind, and the rejected ones."""

    predictions: list[Prediction] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


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
_deadletter_decoder: Final = msgspec.json.Decoder(DeadLetterMessage)
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
        try:
            batch = _batch_decoder.decode(data)
        except msgspec.MsgspecError:
            return _decode_event_by_event(data)
        if batch.schema != SCHEMA:
            return _reject_message(
                data, "unknown_schema", f"schema {batch.schema!r} is not {SCHEMA!r}"
            )
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
        return _reject_message(raw, "invalid_value", f"undecodable message ({error!r})")


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


def _decode_event_by_event(data: bytes) -> DecodedBatch:
    """The slow path: something in the message is bad; find what, and keep the good events."""
    try:  # the usual case: a well-formed batch with some bad events
        batch = _raw_batch_decoder.decode(data)
        schema, events = batch.schema, batch.events
    except msgspec.DecodeError:
        diagnosis = _diagnose_message(data)
        if isinstance(diagnosis, DecodedBatch):
            return diagnosis
        schema, events = diagnosis
    if schema != SCHEMA:
        return _reject_message(data, "unknown_schema", f"schema {schema!r} is not {SCHEMA!r}")
    result = DecodedBatch()
    for index, raw in enumerate(events):
        try:
            event = _event_decoder.decode(raw)
            problem = _finish(event)
        except msgspec.ValidationError as error:
            problem = _explain(bytes(raw), str(error))
        if problem is None:
            if isinstance(event, Prediction):
                result.predictions.append(event)
            else:
                result.labels.append(event)
        else:
            reason, detail = problem
            result.rejected.append(Rejected(index, reason, f"events[{index}]{detail}", bytes(raw)))
    return result


def _diagnose_message(data: bytes) -> DecodedBatch | tuple[str, list[msgspec.Raw]]:
    """Why a message is not a batch; or its schema and events, if it is one after all."""
    try:
        envelope = _object_decoder.decode(data)
    except msgspec.ValidationError:  # (a subclass of DecodeError: test it first)
        return _reject_message(data, "not_a_batch", f"message: expected object, got {_kind(data)}")
    except msgspec.DecodeError as error:
        return _reject_message(data, "invalid_json", f"message: invalid JSON ({error})")
    for name in ("schema", "events"):
        if name not in envelope:
            return _reject_message(
                data, "not_a_batch", f"message.{name}: required field is missing"
            )
    try:
        schema = _string_decoder.decode(envelope["schema"])
        events = _array_decoder.decode(envelope["events"])
    except msgspec.ValidationError:
        wrong = "schema" if _kind(envelope["schema"]) != "string" else "events"
        expected = "string" if wrong == "schema" else "array"
        detail = f"message.{wrong}: expected {expected}, got {_kind(envelope[wrong])}"
        return _reject_message(data, "not_a_batch", detail)
    return schema, events


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
            return problem[1], f".features[{_quote(name)}] (name): {problem[0]}"
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


_JSON_KINDS: Final = {"{": "object", "[": "array", '"': "string", "t": "boolean", "f": "boolean",
                      "n": "null"}  # fmt: skip
_TYPE_WORDS: Final = {"float": "number", "int": "integer", "str": "string", "bool": "boolean",
                      "datetime": "timestamp"}  # fmt: skip
_EXPECTED: Final = re.compile(r"Expected `([^`]*)`, got `([^`]*)`")
_AT_PATH: Final = re.compile(r" - at `(key` in `)?\$([^`]*)`$")
_TIMESTAMP_RULE: Final = "expected an RFC 3339 timestamp with a UTC offset (Z or ±hh:mm)"
_KEY_DECODER: Final = msgspec.json.Decoder(_Name)
_ENTRY_DECODERS: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    ".features": msgspec.json.Decoder(FeatureValue),
    ".tags": msgspec.json.Decoder(_Text),
    ".prediction.score": msgspec.json.Decoder(_Probability),
}


def _kind(raw: bytes | msgspec.Raw) -> str:
    return _JSON_KINDS.get(bytes(raw).lstrip()[:1].decode("latin-1"), "number")


def _quote(name: str) -> str:
    return msgspec.json.encode(name[:40] + ("…" if len(name) > 40 else "")).decode()


def _explain(raw: bytes, message: str) -> tuple[str, str]:
    """Turn a msgspec validation message into (reason, detail naming the offending field)."""
    match = _AT_PATH.search(message)
    text = message[: match.start()] if match else message
    path = match.group(2) if match else ""
    if match and (match.group(1) or "[...]" in path):
        path = _locate(raw, path.partition("[...]")[0], in_key=bool(match.group(1)))
    if text.startswith("Object missing required field"):
        return "missing_field", f"{path}.{text.split('`')[1]}: required field is missing"
    if path == ".type":
        value = bytes(_object_decoder.decode(raw)["type"]).decode()[:60]
        return "unknown_type", f'.type: {value} is not "prediction" or "label"'
    if text == "Number out of range":
        return "non_finite", f"{path}: number beyond the finite double range"
    if "datetime" in text or "RFC3339" in text:
        return "invalid_timestamp", f"{path}: {_TIMESTAMP_RULE}"
    if expected := _EXPECTED.match(text):
        wanted = " or ".join(_TYPE_WORDS.get(word, word) for word in expected[1].split(" | "))
        return (
            "wrong_type",
            f"{path}: expected {wanted}, got {_TYPE_WORDS.get(expected[2], expected[2])}",
        )
    if " of length <= " in text:
        unit = "characters" if text.startswith("Expected `str`") else "entries"
        return "limit_exceeded", f"{path}: more than {text.rsplit(' ', 1)[1]} {unit}"
    if " of length >= " in text:
        return "invalid_value", f"{path}: must not be empty"
    if text.startswith("Expected `float` "):
        return "invalid_value", f"{path}: must be {text.removeprefix('Expected `float` ')}"
    return "invalid_value", f"{path}: {text}"


def _locate(raw: bytes, container_path: str, *, in_key: bool) -> str:
    """Name the map entry that msgspec reports only as ``[...]`` (a bad value) or ``key``."""
    try:
        node = raw
        for name in container_path.strip(".").split("."):
            node = bytes(_object_decoder.decode(node)[name])
        check = _KEY_DECODER if in_key else _ENTRY_DECODERS[container_path]
        for key, value in _object_decoder.decode(node).items():
            try:
                check.decode(msgspec.json.encode(key) if in_key else value)
            except msgspec.ValidationError:
                return f"{container_path}[{_quote(key)}]" + (" (name)" if in_key else "")
    except (msgspec.MsgspecError, KeyError):
        pass
    return container_path + ("" if in_key else "[...]")
