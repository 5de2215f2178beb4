"""The wire codec: round trips, every rejection reason, never raising, size limits, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from infersight.sdk.wire import (
    DEADLETTER_MAX_RAW_BYTES,
    MAX_MESSAGE_BYTES,
    REASONS,
    SCHEMA,
    DecodedBatch,
    Label,
    Prediction,
    ScoredLabel,
    decode_batch,
    decode_deadletter,
    encode_batch,
    encode_deadletter,
)

from tests.wire.strategies import EVENTS

TS = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def prediction(**changes: Any) -> Prediction:
    fields: dict[str, Any] = {
        "model": "fraud", "version": "3", "prediction_id": "p-1", "ts": TS,
        "features": {"amount": 12.5, "country": "DE", "vip": True, "age": None}, "prediction": 0.93,
        "latency_ms": 4.1, "tags": {"region": "eu"},
    }  # fmt: skip
    return Prediction(**(fields | changes))


def event_dict(**changes: Any) -> dict[str, Any]:
    return msgspec.to_builtins(prediction()) | changes


def message(*events: Any) -> bytes:
    return msgspec.json.encode({"schema": SCHEMA, "events": list(events)})


def decode_with_good_neighbours(bad: Any) -> DecodedBatch:
    """Decode [good, bad, good]; check the good ones survive and return the batch."""
    batch = decode_batch(message(event_dict(prediction_id="a"), bad, event_dict(prediction_id="b")))
    assert [p.prediction_id for p in batch.predictions] == ["a", "b"]
    assert len(batch.rejected) == 1 and batch.rejected[0].index == 1
    assert batch.rejected[0].reason in REASONS
    assert msgspec.json.decode(batch.rejected[0].raw) == msgspec.json.decode(
        msgspec.json.encode(bad)
    )
    return batch


# Round trips ------------------------------------------------------------------------------------

PREDICTION_SHAPES = [
    0.93, -3.5e12, 7, 0, True, "fraud", None, [0.1, 0.7, 0.2], [],
    ScoredLabel(label="spam"), ScoredLabel(label=1, score=0.8), ScoredLabel(label=2.0),
    ScoredLabel(label=True, score={"True": 0.6, "False": 0.4}),
]  # fmt: skip


@pytest.mark.parametrize("value", PREDICTION_SHAPES, ids=repr)
def test_every_prediction_shape_round_trips(value: Any) -> None:
    event = prediction(prediction=value)
    batch = decode_batch(encode_batch([event]))
    assert batch.predictions == [event] and batch.rejected == []
    assert type(batch.predictions[0].prediction) is type(value)


@pytest.mark.parametrize("label", ["fraud", 1, 0.25, False])
def test_labels_round_trip(label: Any) -> None:
    event = Label(model="fraud", prediction_id="p-1", label=label, ts=TS)
    batch = decode_batch(encode_batch([event]))
    assert batch.labels == [event] and batch.predictions == [] and batch.rejected == []
    assert type(batch.labels[0].label) is type(label)


def test_a_failed_call_round_trips_with_its_error_type() -> None:
    event = prediction(prediction=None, error="TimeoutError", latency_ms=None, tags={})
    assert decode_batch(encode_batch([event])).predictions == [event]


def test_token_usage_and_time_to_first_token_round_trip_and_are_optional() -> None:
    event = prediction(usage={"input_tokens": 2051, "output_tokens": 95, "cached_input_tokens": 1920,
                              "audio_tokens": 4}, ttft_ms=212.5)
    assert decode_batch(encode_batch([event])).predictions == [event]
    without = decode_batch(message(event_dict())).predictions[0]
    assert (without.usage, without.ttft_ms) == ({}, None)
    assert b"usage" not in encode_batch([prediction()])  # old consumers see the event they knew


def test_mappings_in_wire_shape_encode_like_structs() -> None:
    as_mapping = event_dict() | {"ts": TS}
    assert encode_batch([as_mapping]) == encode_batch([prediction()])


def test_timestamps_with_offsets_come_back_in_utc() -> None:
    local = TS.astimezone(timezone(timedelta(hours=-5, minutes=-30)))
    decoded = decode_batch(encode_batch([prediction(ts=local)])).predictions[0].ts
    assert decoded == TS and decoded.tzinfo is UTC


def test_integer_features_are_read_as_floats_and_huge_integers_too() -> None:
    raw = message(event_dict(features={"n": 3, "big": 10**30}), event_dict(prediction=10**30))
    batch = decode_batch(raw)
    assert batch.predictions[0].features == {"n": 3.0, "big": 1e30}
    assert type(batch.predictions[0].features["n"]) is float
    assert batch.predictions[1].prediction == 1e30 and batch.rejected == []


def test_non_finite_floats_are_encoded_as_null() -> None:
    event = prediction(features={"x": float("nan"), "y": float("inf")}, latency_ms=float("nan"))
    decoded = decode_batch(encode_batch([event])).predictions[0]
    assert decoded.features == {"x": None, "y": None} and decoded.latency_ms is None


def test_unknown_fields_are_ignored_at_every_level() -> None:
    raw = msgspec.json.encode({
        "schema": SCHEMA, "producer": "java-sdk/1.2",
        "events": [event_dict(sampled=True, prediction={"label": "a", "score": 0.5, "why": [1]})],
    })  # fmt: skip
    batch = decode_batch(raw)
    assert batch.rejected == [] and batch.predictions[0].prediction == ScoredLabel("a", 0.5)


def test_an_empty_batch_is_valid() -> None:
    assert decode_batch(message()) == DecodedBatch()


def test_str_input_is_accepted() -> None:
    assert decode_batch(encode_batch([prediction()]).decode()).predictions == [prediction()]


def test_naive_timestamps_are_refused_at_encoding() -> None:
    with pytest.raises(ValueError, match=r"events\[0\]\.ts: naive datetime"):
        encode_batch([prediction(ts=datetime(2024, 5, 1))])


@settings(max_examples=300, deadline=None)
@given(events=st.lists(EVENTS, max_size=5))
def test_valid_events_always_round_trip(events: list[Prediction | Label]) -> None:
    batch = decode_batch(encode_batch(events))
    assert batch.rejected == []
    assert batch.predictions == [e for e in events if isinstance(e, Prediction)]
    assert batch.labels == [e for e in events if isinstance(e, Label)]


# Rejections: each malformed event is named, the rest of its batch kept ---------------------------

BAD_EVENTS = [
    ("missing_field", {k: v for k, v in event_dict().items() if k != "ts"}, "events[1].ts: required field is missing"),
    ("missing_field", event_dict(prediction={"score": 0.4}), "events[1].prediction.label: required field is missing"),
    ("wrong_type", event_dict(latency_ms="4"), "events[1].latency_ms: expected number or null, got string"),
    ("wrong_type", event_dict(features=[1.0]), "events[1].features: expected object, got array"),
    ("wrong_type", event_dict(features={"amount": 1, "bad": {"a": 1}}), 'events[1].features["bad"]: expected boolean or number or string or array or null, got object'),
    ("wrong_type", event_dict(features={"amount": 1, "bad": ["a"]}), 'events[1].features["bad"]: expected number, got string'),
    ("wrong_type", event_dict(tags={"k": 1}), 'events[1].tags["k"]: expected string, got integer'),
    ("wrong_type", [1, 2], "events[1]: expected object, got array"),
    ("unknown_type", event_dict(type="metric"), 'events[1].type: "metric" is not "prediction" or "label"'),
    ("invalid_timestamp", event_dict(ts="2024-05-01T12:00:00"), "events[1].ts: expected an RFC 3339 timestamp with a UTC offset (Z or ±hh:mm)"),
    ("invalid_timestamp", event_dict(ts="May 1st"), "events[1].ts: expected an RFC 3339 timestamp with a UTC offset (Z or ±hh:mm)"),
    ("invalid_value", event_dict(model=""), "events[1].model: must not be empty"),
    ("invalid_value", event_dict(latency_ms=-1.0), "events[1].latency_ms: must be >= 0.0"),
    ("limit_exceeded", event_dict(prediction=[0.5] * 4097), "events[1].prediction: more than 4096 entries"),
    ("invalid_value", event_dict(prediction={"label": "a", "score": {"a": 1.2}}), 'events[1].prediction.score["a"]: must be <= 1.0'),
    ("invalid_value", event_dict(features={"": 1.0}), 'events[1].features[""] (name): must not be empty'),
    ("limit_exceeded", event_dict(prediction_id="x" * 257), "events[1].prediction_id: more than 256 characters"),
    ("limit_exceeded", event_dict(features={"n" * 300: 1.0}), 'events[1].features["' + "n" * 40 + '…"] (name): more than 256 characters'),
    ("limit_exceeded", event_dict(features={"s": "v" * 5000}), 'events[1].features["s"]: more than 4096 characters'),
    ("limit_exceeded", event_dict(features={f"f{i}": 0.0 for i in range(1001)}), "events[1].features: more than 1000 entries"),
    ("limit_exceeded", event_dict(tags={"t" * 300: "v"}), 'events[1].tags["' + "t" * 40 + '…"] (name): more than 256 characters'),
    ("wrong_type", event_dict(usage={"input_tokens": 12.0}), 'events[1].usage["input_tokens"]: expected integer, got number'),
    ("wrong_type", event_dict(usage=None), "events[1].usage: expected object, got null"),
    ("invalid_value", event_dict(usage={"output_tokens": -1}), 'events[1].usage["output_tokens"]: must be >= 0'),
    ("invalid_value", event_dict(ttft_ms=-0.5), "events[1].ttft_ms: must be >= 0.0"),
    ("limit_exceeded", event_dict(usage={f"k{i}": 1 for i in range(17)}), "events[1].usage: more than 16 entries"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "bad", "detail"), BAD_EVENTS, ids=[b[2][10:50] for b in BAD_EVENTS]
)
def test_a_malformed_event_is_rejected_with_its_reason_and_the_rest_kept(
    reason: str, bad: Any, detail: str
) -> None:
    rejected = decode_with_good_neighbours(bad).rejected[0]
    assert (rejected.reason, rejected.detail) == (reason, detail)


@pytest.mark.parametrize(
    ("field", "literal"),
    [("features", b'{"x": 1e999}'), ("latency_ms", b"1e999"), ("prediction", b"[0.5, -1e999]"),
     ("prediction", b"-1e400"), ("prediction", b"1" + b"0" * 400)],
)  # fmt: skip
def test_infinity_is_rejected_anywhere_a_number_is_allowed(field: str, literal: bytes) -> None:
    bad = msgspec.json.encode(event_dict(**{field: "HOLE"})).replace(b'"HOLE"', literal)
    good = msgspec.json.encode(event_dict())
    raw = b'{"schema": "%s", "events": [%s, %s]}' % (SCHEMA.encode(), bad, good)
    batch = decode_batch(raw)
    assert len(batch.predictions) == 1 and [r.index for r in batch.rejected] == [0]
    assert batch.rejected[0].reason == "non_finite" and batch.rejected[0].raw == bad
    assert batch.rejected[0].detail.startswith(f"events[0].{field}")


def test_label_infinity_and_huge_integers() -> None:
    label = msgspec.json.encode(Label(model="m", prediction_id="a", label=0, ts=TS))
    raw = b'{"schema": "%s", "events": [%s, %s]}' % (
        SCHEMA.encode(), label.replace(b'"label":0', b'"label":1e999'),
        label.replace(b'"label":0', b'"label":123456789012345678901234567890'),
    )  # fmt: skip
    batch = decode_batch(raw)
    assert [r.reason for r in batch.rejected] == ["non_finite"]
    assert batch.labels[0].label == 1.2345678901234568e29


def test_several_bad_events_are_each_reported_in_order() -> None:
    raw = message(event_dict(model=1), event_dict(), event_dict(type=None), event_dict(ts=""))
    batch = decode_batch(raw)
    assert [(r.index, r.reason) for r in batch.rejected] == [
        (0, "wrong_type"), (2, "unknown_type"), (3, "invalid_timestamp")
    ]  # fmt: skip
    assert len(batch.predictions) == 1


@pytest.mark.parametrize(
    ("raw", "reason", "detail"),
    [
        (b'{"schema": "infersight.events/v1", "events": [', "invalid_json", "message: invalid JSON"),
        (b"\xff\xfe{}", "invalid_json", "message: invalid JSON"),
        (b"", "invalid_json", "message: invalid JSON"),
        (b"[]", "not_a_batch", "message: expected object, got array"),
        (b'"events"', "not_a_batch", "message: expected object, got string"),
        (b'{"events": []}', "not_a_batch", "message.schema: required field is missing"),
        (b'{"schema": "infersight.events/v1"}', "not_a_batch", "message.events: required field is missing"),
        (b'{"schema": 1, "events": []}', "not_a_batch", "message.schema: expected string, got number"),
        (b'{"schema": "infersight.events/v1", "events": {}}', "not_a_batch", "message.events: expected array, got object"),
        (b'{"schema": "infersight.events/v1", "events": [{"type": "label", "model": "\x80"}]}', "invalid_json", "message: invalid JSON (Invalid UTF-8 encoded string)"),
        (b'{"schema": "infersight.events/v9", "events": []}', "unknown_schema", "schema 'infersight.events/v9' is not 'infersight.events/v1' or 'infersight.events/v2'"),
        (b'{"schema": "infersight.events/v9", "events": [1]}', "unknown_schema", "schema 'infersight.events/v9' is not 'infersight.events/v1' or 'infersight.events/v2'"),
        (b'{"schema": "infersight.events/v9"}', "unknown_schema", "schema 'infersight.events/v9' is not 'infersight.events/v1' or 'infersight.events/v2'"),
        (b'{"schema": "infersight.events/v2", "predictions": {}}', "not_a_batch", "message.predictions: expected array, got object"),
        (b'{"labels": 3, "schema": "infersight.events/v2"}', "not_a_batch", "message.labels: expected array, got number"),
    ],
)  # fmt: skip
def test_a_malformed_message_is_rejected_whole(raw: bytes, reason: str, detail: str) -> None:
    batch = decode_batch(raw)
    assert batch.predictions == [] and batch.labels == []
    [rejected] = batch.rejected
    assert (rejected.index, rejected.reason, rejected.raw) == (None, reason, raw)
    assert rejected.detail.startswith(detail)


def test_a_5_mb_message_is_rejected_as_oversize_without_decoding() -> None:
    events = [
        prediction(prediction_id=f"p-{i}", features={"blob": "x" * 4000}) for i in range(1300)
    ]
    raw = encode_batch(events)
    assert len(raw) > 5_000_000
    [rejected] = decode_batch(raw).rejected
    assert (rejected.index, rejected.reason) == (None, "oversize")
    assert (
        rejected.detail == f"message of {len(raw)} bytes exceeds the limit of {MAX_MESSAGE_BYTES}"
    )
    assert len(decode_batch(raw, max_bytes=10_000_000).predictions) == 1300


def test_the_size_limit_is_inclusive() -> None:
    raw = encode_batch([prediction()])
    assert decode_batch(raw, max_bytes=len(raw)).predictions
    assert decode_batch(raw, max_bytes=len(raw) - 1).rejected[0].reason == "oversize"


@pytest.mark.parametrize("value", [None, 42, 1.5, ["a"], object()])
def test_input_that_is_neither_bytes_nor_str_is_rejected(value: Any) -> None:
    assert decode_batch(value).rejected[0].reason == "not_a_batch"


# Never raises -----------------------------------------------------------------------------------


def _check_outcome(batch: DecodedBatch) -> None:
    assert isinstance(batch, DecodedBatch)
    for rejected in batch.rejected:
        assert rejected.reason in REASONS and rejected.detail and isinstance(rejected.raw, bytes)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=400))
def test_any_bytes_decode_without_raising(data: bytes) -> None:
    _check_outcome(decode_batch(data))


@settings(max_examples=300, deadline=None)
@given(events=st.lists(EVENTS, min_size=1, max_size=3), data=st.data())
def test_corrupted_valid_messages_decode_without_raising(
    events: list[Any], data: st.DataObject
) -> None:
    raw = bytearray(encode_batch(events))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.sampled_from(b'{}[]",:0123456789eE.-+ntfxZ\\\xff'))
    batch = decode_batch(bytes(raw))
    _check_outcome(batch)
    assert len(batch.rejected) + len(batch.predictions) + len(batch.labels) >= 1


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_any_text_decodes_without_raising(text: str) -> None:
    _check_outcome(decode_batch(text))


# Dead letters -----------------------------------------------------------------------------------


def test_a_dead_letter_keeps_the_event_and_where_it_came_from() -> None:
    [rejected] = decode_with_good_neighbours(event_dict(latency_ms="slow")).rejected
    letter = decode_deadletter(encode_deadletter(
        rejected.raw, rejected.reason, rejected.detail, topic="infersight.events", partition=2, offset=41
    ))  # fmt: skip
    assert (letter.reason, letter.topic, letter.partition, letter.offset) == (
        "wrong_type", "infersight.events", 2, 41
    )  # fmt: skip
    assert letter.raw_input() == rejected.raw and letter.raw_encoding == "utf-8"
    assert not letter.truncated and letter.dead_lettered_at.tzinfo is not None


def test_a_dead_letter_of_binary_or_huge_input_stays_small_and_readable() -> None:
    binary = decode_deadletter(
        encode_deadletter(b"\xff\x00", "invalid_json", "d", topic="t", partition=None, offset=None)
    )
    assert binary.raw_encoding == "base64" and binary.raw_input() == b"\xff\x00"
    huge = b"x" * 5_000_000
    encoded = encode_deadletter(huge, "oversize", "d", topic="t", partition=0, offset=0)
    letter = decode_deadletter(encoded)
    assert len(encoded) < DEADLETTER_MAX_RAW_BYTES + 1000
    assert (
        letter.truncated
        and letter.raw_bytes == 5_000_000
        and letter.raw_input() == huge[:DEADLETTER_MAX_RAW_BYTES]
    )
