"""The HTTP transport, ``upload_reference`` (against a real http.server) and the local bus."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd
import pytest
from infersight.sdk import ReferenceUploadError
from infersight.sdk.events import hash_value
from infersight.sdk.keys import message_key
from infersight.sdk.local_bus import LocalBus, get_local_bus
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC, decode_batch

import infersight


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Api:
    """A tiny API on 127.0.0.1 that records requests and answers with scripted statuses."""

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # consumed first; then 202
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def api() -> Iterator[Api]:
    state: dict[str, Api] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            recorder = state["api"]
            with recorder.lock:
                recorder.requests.append(Received("POST", self.path, dict(self.headers), body))
                status = recorder.statuses.pop(0) if recorder.statuses else 202
            answer = json.dumps({"status": status}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["api"] = Api(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["api"]
    server.shutdown()
    server.server_close()


def test_http_transport_posts_wire_batches_with_the_api_key(api: Api) -> None:
    infersight.init(transport=api.url, api_key="secret-key", flush_interval=0.05)
    for i in range(3):
        infersight.log_prediction(model="fraud", version="3", features={"i": i}, prediction=0.5)
    infersight.log_label(model="fraud", prediction_id="p-1", label=0)
    assert infersight.flush(timeout=5)
    paths = sorted(request.path for request in api.requests)
    assert paths == ["/v1/events", "/v1/labels"]
    for request in api.requests:
        assert request.headers["Authorization"] == "Bearer secret-key"
        assert request.headers["Content-Type"] == "application/json"
        assert decode_batch(request.body).rejected == []
    events_request = next(r for r in api.requests if r.path == "/v1/events")
    assert [p.features["i"] for p in decode_batch(events_request.body).predictions] == [0, 1, 2]


def test_http_transport_retries_server_errors_and_drops_rejected_batches(api: Api) -> None:
    api.statuses.extend([503, 500, 202, 400])
    infersight.init(transport=api.url, flush_interval=0.05)
    infersight.log_prediction(model="fraud", features={"i": 1}, prediction=0.5)
    assert infersight.flush(timeout=10)  # 503, 500, then accepted
    infersight.log_prediction(model="fraud", features={"i": 2}, prediction=0.5)
    infersight.flush(timeout=5)  # 400: refused for good
    stats = infersight.stats()
    assert len(api.requests) == 4
    assert stats["sent"] == 1 and stats["errors"] == 2
    assert stats["dropped_by_reason"] == {"send_error": 1}
    assert "Authorization" not in api.requests[0].headers


def test_http_transport_with_nothing_listening_fails_open(api: Api) -> None:
    infersight.init(transport="http://127.0.0.1:9", queue_size=50, flush_interval=0.05)

    @infersight.monitor(model="fraud")
    def predict(features: dict[str, int]) -> int:
        return 1

    assert [predict({"i": i}) for i in range(200)] == [1] * 200
    assert not infersight.flush(timeout=0.5)
    stats = infersight.stats()
    assert stats["dropped_by_reason"]["queue_full"] >= 100
    assert stats["errors"] >= 1 and "failed" in stats["last_error"]


def test_upload_reference_posts_columns_with_the_api_key(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERSIGHT_API_URL", api.url)
    monkeypatch.setenv("INFERSIGHT_API_KEY", "ref-key")
    infersight.init(transport="memory", models={"fraud": {"hash": ["email"]}})
    frame = pd.DataFrame({"amount": [1.5, np.nan, 3.0], "country": ["FR", "DE", None],
                          "email": ["a@b.c", "d@e.f", None]})
    answer = infersight.upload_reference(model="fraud", version="3", features=frame,
                                         predictions=np.array([0.1, 0.7, 0.4]), labels=pd.Series([0, 1, 0]),
                                         task="binary", positive_class=1, threshold=0.6)
    assert answer == {"status": 202}
    [request] = api.requests
    assert request.path == "/v1/models/fraud/versions/3/reference"
    assert request.headers["Authorization"] == "Bearer ref-key"
    body = json.loads(request.body)
    assert body == {
        "features": {"amount": [1.5, None, 3.0], "country": ["FR", "DE", None],
                     "email": [hash_value("a@b.c"), hash_value("d@e.f"), None]},
        "predictions": [0.1, 0.7, 0.4], "labels": [0, 1, 0],
        "task": "binary", "positive_class": 1, "threshold": 0.6,
    }


def test_upload_reference_reports_refusals_and_bad_input(api: Api) -> None:
    api.statuses.append(422)
    with pytest.raises(ReferenceUploadError, match="422") as refused:
        infersight.upload_reference(model="m/x", version="1", features={"a": [1, 2]}, api_url=api.url)
    assert refused.value.status == 422
    assert api.requests[0].path == "/v1/models/m%2Fx/versions/1/reference"
    with pytest.raises(ValueError, match="differ in length"):
        infersight.upload_reference(model="m", version="1", features={"a": [1, 2], "b": [1]}, api_url=api.url)
    with pytest.raises(ValueError, match="predictions has 1 values"):
        infersight.upload_reference(model="m", version="1", features={"a": [1, 2]}, predictions=[1],
                                    api_url=api.url)
    with pytest.raises(ReferenceUploadError, match="failed"):
        infersight.upload_reference(model="m", version="1", features={"a": [1]}, api_url="http://127.0.0.1:9")


def test_local_transport_publishes_to_the_process_bus() -> None:
    bus = get_local_bus()
    start = bus.end_offset(EVENTS_TOPIC)
    infersight.init(transport="local", flush_interval=0.05)
    infersight.log_prediction(model="local-model", features={"a": 1}, prediction=2)
    infersight.log_label(model="local-model", prediction_id="p", label=1)
    assert infersight.flush(timeout=5)
    [(offset, key, value)] = bus.read(EVENTS_TOPIC, start)
    assert (offset, key) == (start, message_key("local-model", value))
    assert decode_batch(value).predictions[0].prediction == 2
    [(_offset, label_key, label_value)] = bus.read(LABELS_TOPIC, bus.end_offset(LABELS_TOPIC) - 1)
    assert label_key == message_key("local-model", label_value)


def test_local_bus_is_bounded_offset_addressed_and_wakes_waiting_readers() -> None:
    bus = LocalBus(max_messages_per_topic=100)
    for i in range(250):
        bus.publish("t", None, str(i).encode())
    assert (bus.start_offset("t"), bus.end_offset("t")) == (150, 250)
    assert bus.stats == {"published": 250, "trimmed": 150}
    assert [value for _, _, value in bus.read("t", 0, max_messages=3)] == [b"150", b"151", b"152"]
    assert [offset for offset, _, _ in bus.read("t", 248)] == [248, 249]
    assert bus.read("t", 250) == [] and bus.read("other", 0) == []

    threading.Timer(0.1, bus.publish, args=("t", b"k", b"late")).start()
    assert bus.read("t", 250, timeout=5) == [(250, b"k", b"late")]

    writers = [threading.Thread(target=lambda: [bus.publish("c", None, b"x") for _ in range(500)])
               for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert bus.end_offset("c") == 2000 and bus.end_offset("c") - bus.start_offset("c") == 100
