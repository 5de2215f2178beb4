"""``infersight.events/v2`` says what v1 says: the same events decoded, the same refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from infersight.sdk.wire import (
    SCHEMA,
    SCHEMA_V2,
    DecodedBatch,
    Label,
    Prediction,
    decode_batch,
    decode_columns,
    encode_batch,
    encode_batch_v2,
)

from tests.wire.strategies import EVENTS, INFINITY, MUTATIONS
from tests.wire.test_schema import VALIDATOR

OPTIONAL = ("latency_ms", "error", "ttft_ms")
MAPS = ("features", "tags", "usage")


class NotRepresentable(Exception):
    """A v1 event dict that has no v2 form (a required field deleted, a map that is not one)."""


def to_v2(events: list[dict[str, Any]]) -> tuple[bytes, list[int]]:
    """The v2 message of v1 event dicts, written independently of the codec's encoder: one
    block per (model, version) and per set of map keys, so no ``null`` is filled in; and
    the v1 index of each event in v2 order."""
    blocks: dict[str, dict[Any, list[int]]] = {"predictions": {}, "labels": {}}
    for index, event in enumerate(events):
        kind = {"prediction": "predictions", "label": "labels"}.get(event.get("type"))
        required = (("model", "version", "prediction_id", "ts", "features", "prediction")
                    if kind == "predictions" else ("model", "prediction_id", "label", "ts"))
        if kind is None or any(name not in event for name in required):
            raise NotRepresentable
        if kind == "predictions" and any(
                not isinstance(event.get(m, {}), dict) for m in MAPS):
            raise NotRepresentable
        key = json.dumps([
            event["model"], event.get("version"),
            *[sorted(event.get(m, {})) for m in MAPS], *[o in event for o in OPTIONAL],
        ], sort_keys=True)  # fmt: skip
        blocks[kind].setdefault(key, []).append(index)
    document: dict[str, Any] = {"schema": SCHEMA_V2, "predictions": [], "labels": []}
    order: list[int] = []
    for kind, groups in blocks.items():
        for indices in groups.values():
            group = [events[i] for i in indices]
            first = group[0]
            block: dict[str, Any] = {"model": first["model"]}
            columns = (("version",), ("prediction_id", "ts", "prediction"),
                       [o for o in OPTIONAL if o in first]) if kind == "predictions" else (
                       (), ("prediction_id", "label", "ts"), [])  # fmt: skip
            for name in columns[0]:
                block[name] = first[name]
            for name in (*columns[1], *columns[2]):
                block[name] = [e[name] for e in group]
            if kind == "predictions":
                for m in MAPS:
                    if m in first:
                        block[m] = {k: [e[m][k] for e in group] for k in first[m]}
            document[kind].append(block)
            order.extend(indices)
    text = msgspec.json.encode(document).replace(f'"{INFINITY}"'.encode(), b"1e999")
    return text, order


def v1_message(events: list[dict[str, Any]]) -> bytes:
    encoded = msgspec.json.encode({"schema": SCHEMA, "events": events})
    return encoded.replace(f'"{INFINITY}"'.encode(), b"1e999")


def without_missing(event: Prediction | Label) -> Any:
    """An event as builtins with ``null`` features dropped: v2 writes an absent feature as null."""
    value = msgspec.to_builtins(event)
    if isinstance(event, Prediction):
        value["features"] = {k: v for k, v in value["features"].items() if v is not None}
    return value


def outcome(batch: DecodedBatch, order: list[int] | None = None) -> tuple[Any, ...]:
    """Events kept and reasons by v1 index (``order`` maps a v2 event index to its v1 one)."""
    kept = sorted(json.dumps(without_missing(e), sort_keys=True)
                  for e in (*batch.predictions, *batch.labels))  # fmt: skip
    reasons = sorted(((order[r.index] if order else r.index), r.reason) for r in batch.rejected
                     if r.index is not None)  # fmt: skip
    return kept, reasons


@settings(max_examples=300, deadline=None)
@given(events=st.lists(EVENTS, max_size=8))
def test_valid_events_decode_the_same_from_v1_and_v2(events: list[Prediction | Label]) -> None:
    v1 = decode_batch(encode_batch(events))
    message = encode_batch_v2(events)
    v2 = decode_batch(message)
    assert v1.rejected == [] and v2.rejected == []
    assert VALIDATOR.is_valid(json.loads(message))
    assert outcome(v2) == outcome(v1)
    in_v2_order = [e for e in events if isinstance(e, Prediction)]
    firsts = list(dict.fromkeys((p.model, p.version) for p in in_v2_order))
    in_v2_order.sort(key=lambda p: firsts.index((p.model, p.version)))
    assert [without_missing(p) for p in v2.predictions] == [
        without_missing(p) for p in decode_batch(encode_batch(in_v2_order)).predictions]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(events=st.lists(EVENTS, min_size=1, max_size=5), data=st.data())
def test_bad_events_are_refused_alone_with_the_v1_reason(
    events: list[Prediction | Label], data: st.DataObject
) -> None:
    dicts = [msgspec.to_builtins(e) for e in events]
    for index in data.draw(st.sets(st.integers(0, len(dicts) - 1), max_size=len(dicts))):
        kind = dicts[index]["type"]
        _applies_to, mutate = data.draw(st.sampled_from(
            [m for m in MUTATIONS if m[0] in ("any", kind)]))
        dicts[index] = mutate(dicts[index])
    try:
        message, order = to_v2(dicts)
    except NotRepresentable:
        assume(False)
    v1 = decode_batch(v1_message(dicts))
    assume(all(r.index is not None for r in v1.rejected))
    v2 = decode_batch(message)
    assert outcome(v2, order) == outcome(v1), message[:400]
    if not any(r.reason == "invalid_timestamp" for r in v1.rejected):  # a date may not exist
        schema_accepts = VALIDATOR.is_valid(json.loads(message))
        assert schema_accepts == VALIDATOR.is_valid(json.loads(v1_message(dicts))) == (
            not v1.rejected), message[:400]
    columns = decode_columns(message)
    rows = DecodedBatch([p for block in columns.predictions for p in block.rows()],
                        [label for block in columns.labels for label in block.rows()])
    assert outcome(rows) == (*outcome(v2)[:1], []) and columns.rejected == v2.rejected


def test_the_encoder_fills_absent_values_with_null_and_they_come_back_missing() -> None:
    ts = datetime(2024, 5, 1, tzinfo=UTC)
    events = [
        Prediction(model="m", version="1", prediction_id="a", ts=ts, features={"x": 1.0},
                   prediction=0.5, tags={"region": "eu"}, usage={"input_tokens": 3}),
        Prediction(model="m", version="1", prediction_id="b", ts=ts, features={"y": "u"},
                   prediction=None, error="TimeoutError", ttft_ms=2.0),
    ]  # fmt: skip
    message = encode_batch_v2(events)
    block = msgspec.json.decode(message)["predictions"][0]
    assert block["features"] == {"x": [1.0, None], "y": [None, "u"]}
    assert block["tags"] == {"region": ["eu", None]} and block["error"] == [None, "TimeoutError"]
    decoded = decode_batch(message).predictions
    assert decoded[0].features == {"x": 1.0, "y": None} and decoded[1].tags == {}
    assert decoded[0].usage == {"input_tokens": 3} and decoded[1].usage == {}
    assert (decoded[1].error, decoded[1].ttft_ms, decoded[0].latency_ms) == ("TimeoutError", 2.0, None)


GOOD_BLOCK = {"model": "m", "version": "1", "prediction_id": ["a", "b"],
              "ts": ["2024-05-01T00:00:00Z", "2024-05-01T00:00:01Z"],
              "features": {"x": [1.0, 2.0]}, "prediction": [0.1, 0.2]}  # fmt: skip


@pytest.mark.parametrize(
    ("block", "reason", "detail"),
    [
        (7, "wrong_type", "predictions[1]: expected object, got number"),
        ({k: v for k, v in GOOD_BLOCK.items() if k != "ts"}, "missing_field",
         "predictions[1].ts: required field is missing"),
        ({**GOOD_BLOCK, "ts": "2024-05-01T00:00:00Z"}, "wrong_type",
         "predictions[1].ts: expected array, got string"),
        ({**GOOD_BLOCK, "latency_ms": [1.0]}, "invalid_value",
         "predictions[1].latency_ms: 1 entries, but prediction_id has 2"),
        ({**GOOD_BLOCK, "features": {"x": [1.0]}}, "invalid_value",
         'predictions[1].features["x"]: 1 entries, but prediction_id has 2'),
        ({**GOOD_BLOCK, "features": {"x": 1.0}}, "wrong_type",
         'predictions[1].features["x"]: expected array, got number'),
        ({**GOOD_BLOCK, "tags": []}, "wrong_type", "predictions[1].tags: expected object, got array"),
    ],
)  # fmt: skip
def test_a_block_that_cannot_be_split_into_events_is_refused_whole_and_the_rest_kept(
    block: Any, reason: str, detail: str
) -> None:
    later = {"model": "m", "prediction_id": ["a"], "label": [1], "ts": ["2024-05-02T00:00:00Z"]}
    message = msgspec.json.encode({"schema": SCHEMA_V2, "predictions": [GOOD_BLOCK, block],
                                   "labels": [later]})  # fmt: skip
    batch = decode_batch(message)
    assert [p.prediction_id for p in batch.predictions] == ["a", "b"]
    assert [label.prediction_id for label in batch.labels] == ["a"]
    [rejected] = batch.rejected
    assert (rejected.index, rejected.reason, rejected.detail) == (2, reason, detail)
    assert rejected.raw == msgspec.json.encode(block)


def test_a_refused_v2_event_is_dead_lettered_as_the_v1_event_it_stands_for() -> None:
    block = {**GOOD_BLOCK, "latency_ms": [1.0, "slow"], "tags": {"region": ["eu", None]}}
    batch = decode_batch(msgspec.json.encode({"schema": SCHEMA_V2, "predictions": [block]}))
    [rejected] = batch.rejected
    assert (rejected.index, rejected.reason) == (1, "wrong_type")
    assert rejected.detail == "predictions[0][1].latency_ms: expected number or null, got string"
    assert json.loads(rejected.raw) == {
        "type": "prediction", "model": "m", "version": "1", "prediction_id": "b",
        "ts": "2024-05-01T00:00:01Z", "prediction": 0.2, "latency_ms": "slow",
        "features": {"x": 2.0}, "tags": {}}  # fmt: skip
    assert decode_batch(encode_batch([batch.predictions[0]])).predictions == batch.predictions


def test_v1_and_v2_messages_mix_on_one_stream_and_the_schema_may_come_last() -> None:
    event = Label(model="m", prediction_id="a", label=1, ts=datetime(2024, 5, 1, tzinfo=UTC))
    moved = b'{"labels":[{"model":"m","prediction_id":["a"],"label":[1],' \
            b'"ts":["2024-05-01T00:00:00Z"]}],"schema":"infersight.events/v2"}'
    for message in (encode_batch([event]), encode_batch_v2([event]), moved):
        assert decode_batch(message).labels == [event]
        assert decode_columns(message).labels[0].rows() == [event]
    assert decode_batch(b'{"schema": "infersight.events/v2"}') == DecodedBatch()
    misleading = b'{"note": "infersight.events/v2", "schema": "infersight.events/v1", "events": ['
    assert decode_batch(misleading + encode_batch([event]).split(b'"events":[', 1)[1]).labels == [
        event]


def test_the_schema_accepts_the_documented_v2_example_and_refuses_a_v1_body_under_v2() -> None:
    document = json.loads(EXAMPLE)
    assert VALIDATOR.is_valid(document) and not decode_batch(EXAMPLE).rejected
    assert not VALIDATOR.is_valid({**document, "schema": SCHEMA})
    assert not VALIDATOR.is_valid({**document, "schema": "infersight.events/v3"})
    assert not VALIDATOR.is_valid({"schema": SCHEMA_V2, "predictions": [{"model": "m"}]})


def test_the_documented_v2_example_is_in_the_docs() -> None:
    from tests.wire.schema import SCHEMA_PATH

    text = (SCHEMA_PATH.parent / "wire-format.md").read_text(encoding="utf-8")
    assert EXAMPLE.decode() in text


EXAMPLE = b"""{
  "schema": "infersight.events/v2",
  "predictions": [
    {
      "model": "fraud",
      "version": "3",
      "prediction_id": ["req-000042", "req-000043"],
      "ts": ["2024-05-01T12:00:00.125Z", "2024-05-01T12:00:01Z"],
      "features": {"amount": [129.9, 12.0], "country": ["DE", null],
                   "prompt_embedding": [[0.12, -0.5], [0.3, 0.1]]},
      "prediction": [0.93, null],
      "latency_ms": [4.1, 30000.0],
      "tags": {"region": ["eu", null]},
      "error": [null, "TimeoutError"],
      "usage": {"input_tokens": [2051, null], "output_tokens": [95, null]},
      "ttft_ms": [212.5, null]
    }
  ],
  "labels": [
    {"model": "fraud", "prediction_id": ["req-000042"], "label": [1], "ts": ["2024-05-03T09:30:00Z"]}
  ]
}"""


@settings(max_examples=400, deadline=None)
@given(events=st.lists(EVENTS, min_size=1, max_size=4), data=st.data())
def test_corrupted_v2_messages_decode_without_raising_or_hiding_a_bug(
    events: list[Prediction | Label], data: st.DataObject
) -> None:
    from infersight.sdk.wire import REASONS

    raw = bytearray(encode_batch_v2(events))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.sampled_from(b'{}[]",:0123456789eE.-+ntfxZ\\\xff'))
    for batch in (decode_batch(bytes(raw)), decode_columns(bytes(raw))):
        for rejected in batch.rejected:
            assert rejected.reason in REASONS and rejected.detail
            assert not rejected.detail.startswith("undecodable message"), rejected.detail


def test_the_documented_disagreement_tag_bounds_are_judged_per_event() -> None:
    """101 tag columns, but each event has 100 tags at most (a null entry is none)."""
    tags = {f"t{k}": ["v", None] if k == 0 else [None, "v"] if k == 1 else ["v", "v"]
            for k in range(101)}  # fmt: skip
    document = {"schema": SCHEMA_V2, "predictions": [{**GOOD_BLOCK, "tags": tags}]}
    batch = decode_batch(msgspec.json.encode(document))
    assert batch.rejected == [] and [len(p.tags) for p in batch.predictions] == [100, 100]
    assert not VALIDATOR.is_valid(document)
    tags["t0"] = ["v", "v"]
    batch = decode_batch(msgspec.json.encode(document))
    assert [(r.index, r.reason) for r in batch.rejected] == [(1, "limit_exceeded")]
