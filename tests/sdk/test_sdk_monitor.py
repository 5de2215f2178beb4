"""``@monitor`` and the logging functions, observed through the in-memory transport."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pydantic
import pytest
from infersight.sdk import MemoryTransport
from infersight.sdk.events import hash_value
from infersight.sdk.wire import LABELS_TOPIC, decode_batch

import infersight


def _events(memory: MemoryTransport) -> list[dict[str, Any]]:
    assert infersight.flush(timeout=5)
    return memory.events


def test_result_is_returned_unchanged_and_one_event_carries_the_call(memory: MemoryTransport) -> None:
    result = {"score": 0.93, "extra": [1, 2]}

    @infersight.monitor(model="fraud", version="3", prediction=lambda out: out["score"], tags={"team": "risk"})
    def predict(request: dict[str, Any]) -> dict[str, Any]:
        return result

    assert predict({"amount": 12.5, "country": "FR", "vip": True, "note": None}) is result
    [event] = _events(memory)
    assert event["type"] == "prediction"
    assert (event["model"], event["version"], event["prediction"]) == ("fraud", "3", 0.93)
    assert event["features"] == {"amount": 12.5, "country": "FR", "vip": True, "note": None}
    assert event["tags"] == {"team": "risk"}
    assert event["prediction_id"] == infersight.last_prediction_id()
    assert "error" not in event
    for batch in memory.batches:  # every batch decodes with the wire codec, without rejections
        assert decode_batch(batch.value).rejected == []


def test_exception_from_the_function_is_logged_as_error_event_and_reraised(memory: MemoryTransport) -> None:
    class ModelUnavailable(RuntimeError):
        pass

    error = ModelUnavailable("model server down")

    @infersight.monitor(model="fraud")
    def predict(request: dict[str, Any]) -> float:
        raise error

    with pytest.raises(ModelUnavailable) as raised:
        predict({"amount": 3})
    assert raised.value is error
    [event] = _events(memory)
    assert event["error"] == "ModelUnavailable"
    assert event["prediction"] is None
    assert event["features"] == {"amount": 3}


def test_extractor_that_raises_is_counted_and_the_call_still_returns(memory: MemoryTransport) -> None:
    @infersight.monitor(model="fraud", features=lambda request: request["missing"])
    def predict(request: dict[str, Any]) -> float:
        return 0.5

    @infersight.monitor(model="fraud", prediction=lambda out: 1 / 0)
    def predict_bad_output(request: dict[str, Any]) -> float:
        return 0.25

    assert predict({"amount": 1}) == 0.5
    assert predict_bad_output({"amount": 1}) == 0.25
    assert _events(memory) == []
    assert infersight.stats()["dropped_by_reason"] == {"extract_error": 2}


def test_async_functions_are_awaited_timed_and_logged(memory: MemoryTransport) -> None:
    @infersight.monitor(model="async-model")
    async def predict(features: dict[str, float]) -> float:
        await asyncio.sleep(0.02)
        return features["x"] * 2

    @infersight.monitor(model="async-model")
    async def failing(features: dict[str, float]) -> float:
        await asyncio.sleep(0)
        raise ValueError("bad input")

    async def main() -> tuple[list[float], list[str | None]]:
        async def one(x: float) -> tuple[float, str | None]:
            value = await predict({"x": x})
            return value, infersight.last_prediction_id()  # this task's own id

        pairs = await asyncio.gather(*(one(float(x)) for x in range(5)))
        with pytest.raises(ValueError, match="bad input"):
            await failing({"x": 1.0})
        return [value for value, _ in pairs], [pid for _, pid in pairs]

    values, ids = asyncio.run(main())
    assert values == [0.0, 2.0, 4.0, 6.0, 8.0]
    events = _events(memory)
    by_id = {event["prediction_id"]: event for event in events}
    assert [by_id[pid]["prediction"] for pid in ids] == values  # contextvar: ids do not leak across tasks
    assert all(by_id[pid]["latency_ms"] >= 20 for pid in ids)
    assert [event["error"] for event in events if "error" in event] == ["ValueError"]


def test_methods_classmethods_and_default_feature_extraction(memory: MemoryTransport) -> None:
    class Model:
        threshold = 0.5

        @infersight.monitor(model="m")
        def predict(self, amount: float, country: str, *, currency: str = "EUR") -> bool:
            return amount > 100

        @infersight.monitor(model="m", features=lambda request: {"n": len(request)})
        def predict_request(self, request: list[int]) -> int:
            return sum(request)

        @infersight.monitor(model="m")
        @classmethod
        def predict_cls(cls, features: dict[str, int]) -> float:
            return cls.threshold

    model = Model()
    assert model.predict(150.0, "FR", currency="USD") is True
    assert model.predict_request([1, 2, 3]) == 6
    assert Model.predict_cls({"a": 1}) == 0.5
    events = _events(memory)
    assert [event["features"] for event in events] == [
        {"amount": 150.0, "country": "FR", "currency": "USD"},  # scalar arguments by name, no self
        {"n": 3},  # the extractor gets the arguments without self
        {"a": 1},
    ]
    assert [event["prediction"] for event in events] == [True, 6, 0.5]


def test_context_manager_logs_code_that_is_not_a_single_call(memory: MemoryTransport) -> None:
    scorer = infersight.monitor(model="pricing", version="2")
    with scorer as call:
        assert infersight.last_prediction_id() == call.prediction_id
        call.features = {"rooms": 3}
        call.prediction = 241_000.0
    with pytest.raises(KeyError), scorer as call:
        call.features = {"rooms": 1}
        raise KeyError("rooms")

    async def in_a_task() -> None:
        async with scorer as call:
            call.log(features={"rooms": 5}, prediction=300_000.0)

    asyncio.run(in_a_task())
    events = _events(memory)
    assert [(e["features"], e["prediction"], e.get("error")) for e in events] == [
        ({"rooms": 3}, 241_000.0, None),
        ({"rooms": 1}, None, "KeyError"),
        ({"rooms": 5}, 300_000.0, None),
    ]
    assert all(e["version"] == "2" and e["latency_ms"] >= 0 for e in events)


def test_pandas_numpy_pydantic_and_dataclass_inputs(memory: MemoryTransport) -> None:
    frame = pd.DataFrame({"amount": [1.5, np.nan, 3.0], "country": ["FR", None, "DE"], "n": [1, 2, 3]})

    @infersight.monitor(model="batch", prediction=lambda out: out[:, 1])
    def predict_frame(rows: pd.DataFrame) -> np.ndarray:
        return np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])

    @infersight.monitor(model="arrays", feature_names=["a", "b"])
    def predict_array(x: np.ndarray) -> np.float64:
        return np.float64(x.sum())

    class Request(pydantic.BaseModel):
        age: int
        plan: str

    @dataclasses.dataclass
    class Features:
        tenure: float
        churned_before: bool

    @infersight.monitor(model="objects")
    def predict_object(request: Any) -> str:
        return "ok"

    predict_frame(frame)
    predict_array(np.array([np.int64(2), np.int64(3)]))
    predict_object(Request(age=41, plan="pro"))
    predict_object(Features(tenure=2.5, churned_before=False))
    events = _events(memory)
    frame_events = [event for event in events if event["model"] == "batch"]
    assert [event["features"] for event in frame_events] == [
        {"amount": 1.5, "country": "FR", "n": 1},
        {"amount": None, "country": None, "n": 2},
        {"amount": 3.0, "country": "DE", "n": 3},
    ]
    assert [event["prediction"] for event in frame_events] == [0.1, 0.8, 0.5]
    call_id = frame_events[0]["prediction_id"].rsplit(".", 1)[0]
    assert [event["prediction_id"] for event in frame_events] == [f"{call_id}.{i}" for i in range(3)]
    [array_event] = [event for event in events if event["model"] == "arrays"]
    assert (array_event["features"], array_event["prediction"]) == ({"a": 2, "b": 3}, 5.0)
    assert [event["features"] for event in events if event["model"] == "objects"] == [
        {"age": 41, "plan": "pro"}, {"tenure": 2.5, "churned_before": False},
    ]


def test_callers_may_supply_their_own_prediction_ids(memory: MemoryTransport) -> None:
    @infersight.monitor(model="fraud", prediction_id=lambda request: request["request_id"],
                        features=lambda request: {"amount": request["amount"]})
    def predict(request: dict[str, Any]) -> float:
        return 0.1

    @infersight.monitor(model="fraud", prediction_id=lambda frame: frame["id"])
    def predict_many(frame: pd.DataFrame) -> list[float]:
        return [0.2] * len(frame)

    predict({"request_id": "req-42", "amount": 9})
    assert infersight.last_prediction_id() == "req-42"
    predict_many(pd.DataFrame({"id": ["a", "b"], "x": [1, 2]}))
    events = _events(memory)
    assert [event["prediction_id"] for event in events] == ["req-42", "a", "b"]


def test_queue_overflow_drops_and_counts_without_blocking(memory: MemoryTransport) -> None:
    infersight.init(transport=memory, queue_size=100, batch_size=1000, flush_interval=60)
    release = threading.Event()
    original_send = memory.send

    def slow_send(topic: str, key: bytes | None, value: bytes) -> Any:
        release.wait(10)
        return original_send(topic, key, value)

    memory.send = slow_send  # type: ignore[method-assign]

    @infersight.monitor(model="flood")
    def predict(features: dict[str, int]) -> int:
        return features["i"]

    infersight.log_prediction(model="flood", features={"i": -1}, prediction=0)
    infersight.flush(timeout=0.2)  # the worker now waits inside send: nothing drains the queue
    results = [predict({"i": i}) for i in range(1000)]
    assert results == list(range(1000))
    stats = infersight.stats()
    assert stats["dropped_by_reason"]["queue_full"] >= 1000 - 100 - 1
    release.set()
    assert infersight.flush(timeout=5)
    stats = infersight.stats()
    assert stats["sent"] + stats["dropped"] == 1001
    assert stats["sent"] == len(memory.events) >= 100


def test_sampling_redaction_hashing_and_per_model_defaults() -> None:
    memory = MemoryTransport()
    infersight.init(
        transport=memory, hash_salt="pepper", redact=["ssn"], tags={"env": "prod"},
        models={"fraud": {"version": "7", "tags": {"team": "risk"}, "hash": ["email"]}},
    )

    @infersight.monitor(model="fraud", redact=["card"])
    def predict(request: dict[str, Any]) -> float:
        return 0.3

    @infersight.monitor(model="fraud", sample_rate=0.0)
    def never_logged(request: dict[str, Any]) -> float:
        return 0.4

    predict({"email": "a@b.c", "ssn": "123", "card": "4111", "amount": 5})
    assert never_logged({"amount": 1}) == 0.4
    assert infersight.last_prediction_id() is None  # a call left out by sampling has no id
    [event] = _events(memory)
    assert event["features"] == {"email": hash_value("a@b.c", b"pepper"), "amount": 5}
    assert len(event["features"]["email"]) == 16
    assert event["version"] == "7"
    assert event["tags"] == {"env": "prod", "team": "risk"}


def test_half_sampling_keeps_about_half() -> None:
    memory = MemoryTransport()
    infersight.init(transport=memory, sample_rate=0.5)

    @infersight.monitor(model="sampled")
    def predict(features: dict[str, int]) -> int:
        return 1

    for i in range(2000):
        predict({"i": i})
    kept = len(_events(memory))
    assert 800 < kept < 1200  # binomial(2000, 0.5): ~9 standard deviations either side


def test_log_prediction_backfill_and_labels(memory: MemoryTransport) -> None:
    when = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    pid = infersight.log_prediction(model="fraud", version="3", features={"amount": 7},
                                    prediction={"label": "fraud", "score": 0.91}, latency_ms=4.1,
                                    prediction_id="abc", ts=when)
    assert pid == "abc" == infersight.last_prediction_id()
    infersight.log_label(model="fraud", prediction_id="abc", label="fraud", ts="2024-05-02T00:00:00Z")
    infersight.log_label(model="fraud", prediction_id="abc", label=1)
    events = _events(memory)
    [prediction] = [event for event in events if event["type"] == "prediction"]
    assert prediction["ts"] == "2024-05-01T12:00:00.000000Z"
    assert prediction["latency_ms"] == 4.1
    assert prediction["prediction"] == {"label": "fraud", "score": 0.91}
    labels = memory.events_of(LABELS_TOPIC)
    assert [(label["prediction_id"], label["label"]) for label in labels] == [("abc", "fraud"), ("abc", 1)]
    assert labels[0]["ts"] == "2024-05-02T00:00:00.000000Z"
    now_ts = datetime.fromisoformat(labels[1]["ts"])
    assert abs(now_ts - datetime.now(UTC)) < timedelta(seconds=10)


def test_malformed_logged_events_are_dropped_with_reasons_never_raised(memory: MemoryTransport) -> None:
    assert isinstance(infersight.log_prediction(model="", features={"a": 1}, prediction=1), str)
    infersight.log_prediction(model="fraud", features={"a": 1}, prediction=1, ts="yesterday")
    infersight.log_prediction(model="fraud", features=object(), prediction=1)
    infersight.log_prediction(model="fraud", features={"a": 1}, prediction=1, latency_ms=-3)
    infersight.log_label(model=None, prediction_id="x", label=1)  # type: ignore[arg-type]
    infersight.log_prediction(model="fraud", features={"a": float("inf"), "b": 2**70}, prediction=1)
    events = _events(memory)
    assert [event["features"] for event in events] == [{"a": None, "b": float(2**70)}]
    assert infersight.stats()["dropped_by_reason"] == {"invalid_event": 4, "extract_error": 1}


def test_oversize_events_are_dropped_as_encode_errors_and_batches_split_by_bytes() -> None:
    memory = MemoryTransport()
    infersight.init(transport=memory, batch_bytes=20_000)
    wide = {f"feature_{i}": "x" * 1000 for i in range(30)}  # ~30 KB: larger than a batch may be
    infersight.log_prediction(model="wide", features=wide, prediction=1)
    for i in range(60):
        infersight.log_prediction(model="narrow", features={"text": "y" * 900, "i": i}, prediction=1)
    events = _events(memory)
    assert len(events) == 60
    assert infersight.stats()["dropped_by_reason"] == {"encode_error": 1}
    assert len(memory.batches) >= 3
    assert all(len(batch.value) <= 20_000 for batch in memory.batches)


def test_stats_shape_and_shutdown_semantics(memory: MemoryTransport) -> None:
    infersight.log_prediction(model="m", features={"a": 1}, prediction=1)
    infersight.shutdown(timeout=5)
    stats = infersight.stats()
    assert {"queued", "sent", "dropped", "dropped_by_reason", "errors"} <= set(stats)
    assert stats["sent"] == 1 and stats["closed"] is True
    infersight.log_prediction(model="m", features={"a": 1}, prediction=1)  # after shutdown
    assert infersight.stats()["dropped_by_reason"] == {"shutdown": 1}
    assert len(memory.events) == 1


def test_generators_are_refused_at_decoration_with_a_reason() -> None:
    with pytest.raises(TypeError, match="generator"):
        @infersight.monitor(model="m")
        def stream(x: int) -> Any:
            yield x
    with pytest.raises(ValueError, match="model name"):
        infersight.monitor(model="")
    with pytest.raises(ValueError, match="sample_rate"):
        infersight.monitor(model="m", sample_rate=1.5)
