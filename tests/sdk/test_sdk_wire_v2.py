"""The SDK sends ``infersight.events/v2`` when told to, and says the same as with v1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from infersight.sdk import MemoryTransport
from infersight.sdk.config import build_config
from infersight.sdk.wire import SCHEMA, SCHEMA_V2, decode_batch

import infersight

TS = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _send(wire_format: str | None) -> MemoryTransport:
    transport = MemoryTransport()
    infersight.init(transport=transport, flush_interval=0.05, batch_size=7,
                    wire_format=wire_format)  # fmt: skip
    for i in range(20):
        features: dict[str, Any] = {"amount": 10.0 * i, "country": "DE" if i % 3 else None}
        if i % 4 == 0:
            features["embedding"] = [0.1 * i, -0.5, 2.0]
        if i % 5 == 0:
            features["new_field"] = True
        infersight.log_prediction(
            "fraud" if i % 2 else "chat", "3", features=features, prediction=[0.25, 0.75]
            if i % 7 == 0 else 0.01 * i, latency_ms=None if i % 6 == 0 else 1.5 * i,
            prediction_id=f"p{i}", ts=TS + timedelta(seconds=i),
            tags={"region": "eu"} if i % 2 else None,
            usage={"input_tokens": 100 + i, "output_tokens": i} if i % 3 == 0 else None,
            error=TimeoutError if i == 9 else None,
            time_to_first_token_ms=0.5 * i if i % 3 == 0 and i else None)  # fmt: skip
        if i % 3 == 0:
            infersight.log_label("fraud", f"p{i}", i % 2, ts=TS + timedelta(days=1))
    assert infersight.flush(timeout=10)
    infersight.shutdown(timeout=5)
    return transport


def _decoded(transport: MemoryTransport) -> list[Any]:
    events = []
    for batch in transport.batches:
        decoded = decode_batch(batch.value)
        assert decoded.rejected == []
        for event in (*decoded.predictions, *decoded.labels):
            value = msgspec.to_builtins(event)
            if "features" in value:
                value["features"] = {k: v for k, v in value["features"].items() if v is not None}
            events.append(value)
    return sorted(events, key=lambda e: (e["type"], e["prediction_id"]))


def test_v1_is_the_default_and_v2_batches_carry_the_same_events() -> None:
    v1, v2 = _send(None), _send("v2")
    assert {msgspec.json.decode(b.value)["schema"] for b in v1.batches} == {SCHEMA}
    assert {msgspec.json.decode(b.value)["schema"] for b in v2.batches} == {SCHEMA_V2}
    assert len(_decoded(v2)) == 20 + 7
    assert _decoded(v2) == _decoded(v1)
    assert sum(len(b.value) for b in v2.batches) < sum(len(b.value) for b in v1.batches)
    assert {(b.topic, b.key is not None) for b in v2.batches} == {
        (b.topic, b.key is not None) for b in v1.batches}
    by_id = {e["prediction_id"]: e for e in v2.events if e["type"] == "prediction"}
    assert by_id["p9"]["error"] == "TimeoutError" and by_id["p4"]["features"]["embedding"]


def test_the_wire_format_comes_from_the_environment_and_is_checked() -> None:
    env = {"INFERSIGHT_SDK_WIRE_FORMAT": "v2"}
    assert build_config(transport="memory", environ=env).wire_format == "v2"
    assert build_config(transport="memory", environ={}).wire_format == "v1"
    assert build_config(transport="memory", environ=env, wire_format="v1").wire_format == "v1"
    with pytest.raises(ValueError, match="wire_format must be 'v1' or 'v2'"):
        build_config(transport="memory", environ={"INFERSIGHT_SDK_WIRE_FORMAT": "columnar"})
