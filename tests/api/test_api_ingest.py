"""HTTP ingest: validated with the codec, published per model onto the bus, counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from infersight.sdk import wire
from infersight.sdk.keys import message_key

from infersight.api_service import build_api
from infersight.settings import Settings
from tests.api.conftest import Api, LiveServer, serve
from tests.sdk.kafka_reading import read_topic
from tests.support.tansu import TansuBroker, free_port


def _prediction(model: str, i: int, **extra: object) -> dict[str, object]:
    event: dict[str, object] = {
        "type": "prediction", "model": model, "version": "1", "prediction_id": f"{model}-{i}",
        "ts": "2026-01-01T12:00:00Z", "features": {"amount": float(i), "country": "FR"},
        "prediction": 0.25, "latency_ms": 3.5,
    }
    event.update(extra)
    return event


def _label(model: str, i: int) -> dict[str, object]:
    return {"type": "label", "model": model, "prediction_id": f"{model}-{i}", "label": 1,
            "ts": "2026-01-01T12:05:00Z"}


def _batch(events: list[dict[str, object]]) -> bytes:
    return json.dumps({"schema": wire.SCHEMA, "events": events}).encode()


def _read_local(api: Api, topic: str) -> list[tuple[bytes | None, bytes]]:
    return [(key, value) for _offset, key, value in api.bus.read(topic, 0, 10_000)]


def test_mixed_batch_is_split_per_model_and_kind_with_reasons_for_the_rejected(api: Api) -> None:
    events = [
        _prediction("fraud", 0), _prediction("churn", 1), _label("fraud", 0),
        _prediction("fraud", 2, ts="yesterday"),            # refused: invalid_timestamp
        _prediction("fraud", 3), {"type": "prediction"},    # refused: missing_field
    ]
    response = api.post("/v1/events", scope="ingest", content=_batch(events))
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (4, 2)
    assert [(e["index"], e["reason"]) for e in body["errors"]] == [
        (3, "invalid_timestamp"), (5, "missing_field")]
    assert "events[3].ts" in body["errors"][0]["detail"]

    published = _read_local(api, wire.EVENTS_TOPIC)
    assert all(key == message_key(wire.decode_batch(value).predictions[0].model, value)
               for key, value in published)
    by_key = {key.split(b"/")[0]: wire.decode_batch(value) for key, value in published}
    assert set(by_key) == {b"fraud", b"churn"}
    assert [p.prediction_id for p in by_key[b"fraud"].predictions] == ["fraud-0", "fraud-3"]
    assert all(not b.rejected and not b.labels for b in by_key.values())
    expected = wire.decode_batch(_batch([events[0]])).predictions[0]
    assert by_key[b"fraud"].predictions[0] == expected

    labels = _read_local(api, wire.LABELS_TOPIC)
    assert [(k, [x.prediction_id for x in wire.decode_batch(v).labels]) for k, v in labels] == [
        (message_key("fraud", labels[0][1]), ["fraud-0"])]
    letters = [wire.decode_deadletter(v) for _k, v in _read_local(api, wire.DEADLETTER_TOPIC)]
    assert sorted(d.reason for d in letters) == ["invalid_timestamp", "missing_field"]
    assert all(d.topic == "http:/v1/events" for d in letters)


def test_the_rejected_count_is_in_a_header_even_when_every_event_is_refused(api: Api) -> None:
    refused = api.post("/v1/events", scope="ingest",
                       content=_batch([{"type": "prediction"}, _prediction("m", 1, ts="x")]))
    assert refused.status_code == 202 and refused.json()["accepted"] == 0
    assert refused.headers["X-Infersight-Rejected"] == "2"
    clean = api.post("/v1/labels", scope="ingest", content=_batch([_label("m", 1)]))
    assert clean.headers["X-Infersight-Rejected"] == "0"


def test_labels_endpoint_publishes_to_the_labels_topic(api: Api) -> None:
    response = api.post("/v1/labels", scope="ingest", content=_batch([_label("m", 1)]))
    assert response.status_code == 202 and response.json()["accepted"] == 1
    assert len(_read_local(api, wire.LABELS_TOPIC)) == 1
    assert _read_local(api, wire.EVENTS_TOPIC) == []


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_literal_is_named_with_its_fix(sqlite_api: Api, literal: str) -> None:
    """Python's json.dumps writes NaN by default; the answer says so and what to send."""
    value = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[literal]
    body = json.dumps({"schema": wire.SCHEMA, "events": [{"features": {"x": value}}]})
    response = sqlite_api.post("/v1/events", scope="ingest", content=body.encode())
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"
    detail = response.json()["problems"][0]["problem"]
    assert f"at byte {body.index(literal)}: {literal} is not a JSON value" in detail
    assert "null" in detail and "allow_nan=False" in detail


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "not_a_batch"),
        (b'{"schema": "other/v9", "events": []}', 400, "unknown_schema"),
    ],
)
def test_a_body_that_is_not_a_batch_is_a_4xx_naming_the_problem(
    sqlite_api: Api, body: bytes, status: int, error: str
) -> None:
    response = sqlite_api.post("/v1/events", scope="ingest", content=body)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["problems"][0]["field"] == "body"
    assert _read_local(sqlite_api, wire.EVENTS_TOPIC) == []


@pytest.fixture
def small_limit_api(sqlite_url: str) -> Iterator[Api]:
    with serve(sqlite_url, api_max_body_bytes=2_000) as running:
        yield running


def test_oversize_bodies_are_413_announced_or_streamed(small_limit_api: Api) -> None:
    api = small_limit_api
    big = _batch([_prediction("m", i) for i in range(40)])
    assert len(big) > 2_000
    announced = api.post("/v1/events", scope="ingest", content=big)
    assert announced.status_code == 413
    assert announced.json()["limit_bytes"] == 2_000

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for start in range(0, len(big), 500):
            yield big[start : start + 500]

    streamed = api.post("/v1/events", scope="ingest", content=chunks())
    assert streamed.status_code == 413
    assert _read_local(api, wire.EVENTS_TOPIC) == []


def test_large_batches_are_republished_under_the_message_limit(sqlite_url: str) -> None:
    with serve(sqlite_url, api_max_body_bytes=5_000_000) as api:
        padding = "x" * 3000
        events = [_prediction("big", i, features={"note": padding, "n": float(i)})
                  for i in range(700)]
        body = _batch(events)
        assert len(body) > wire.MAX_MESSAGE_BYTES
        response = api.post("/v1/events", scope="ingest", content=body)
        assert response.status_code == 202 and response.json()["accepted"] == 700
        published = _read_local(api, wire.EVENTS_TOPIC)
        assert len(published) >= 3
        assert all(len(value) <= wire.MAX_MESSAGE_BYTES for _k, value in published)
        ids = [p.prediction_id for _k, v in published for p in wire.decode_batch(v).predictions]
        assert ids == [f"big-{i}" for i in range(700)]


def test_ingest_counts_show_in_prometheus_metrics(sqlite_api: Api) -> None:
    events = [_prediction("m", 1), {"type": "prediction"}]
    sqlite_api.post("/v1/events", scope="ingest", content=_batch(events))
    sqlite_api.post("/v1/events", scope="ingest", content=b"{oops")
    text = sqlite_api.client.get("/metrics").text
    assert 'infersight_api_events_accepted_total{topic="infersight.events"} 1.0' in text
    assert 'infersight_api_events_rejected_total{reason="missing_field"} 1.0' in text
    assert 'infersight_api_errors_total{route="/v1/events",status="400"} 1.0' in text


@pytest.mark.kafka
def test_ingest_publishes_to_the_real_kafka_broker(sqlite_url: str, kafka_broker: TansuBroker) -> None:
    model = f"kafka-{datetime.now(UTC).strftime('%H%M%S%f')}"
    settings = Settings(database_url=sqlite_url, auth="off", api_rollups=False, api_bus="kafka",
                        kafka_bootstrap_servers=kafka_broker.bootstrap)
    app = build_api(settings)  # no bus given: the settings choose Kafka
    events = [_prediction(model, i) for i in range(5)]
    with LiveServer(app) as base:
        response = httpx.post(f"{base}/v1/events", content=_batch(events), timeout=30)
        assert response.status_code == 202 and response.json()["accepted"] == 5
        assert httpx.get(f"{base}/readyz", timeout=30).json()["checks"]["bus"] == "ok"
    messages = read_topic(kafka_broker.bootstrap, wire.EVENTS_TOPIC,
                          stop_when=lambda evs: sum(e.model == model for e in evs) >= 5)
    mine = [m for m in messages if m.key == message_key(model, m.value)]
    assert [e.prediction_id for m in mine for e in m.events] == [f"{model}-{i}" for i in range(5)]


def test_bus_down_is_503_and_not_ready(sqlite_url: str) -> None:
    dead = f"127.0.0.1:{free_port()}"
    settings = Settings(database_url=sqlite_url, auth="off", api_rollups=False, api_bus="kafka",
                        kafka_bootstrap_servers=dead, api_publish_timeout=2.0)
    with LiveServer(build_api(settings)) as base:
        response = httpx.post(f"{base}/v1/events", content=_batch([_prediction("m", 1)]),
                              timeout=30)
        assert response.status_code == 503
        assert response.json()["error"] == "bus_unavailable"
        ready = httpx.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["bus"].startswith("unavailable")
