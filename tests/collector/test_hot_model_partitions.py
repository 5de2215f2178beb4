"""A hot model uses every partition: one model's traffic, keyed as the SDK and the API key
it, spreads over 8 partitions; 1, 2 or 4 workers (one of them SIGKILLed mid-stream) give
the same metric points as one worker reading the same messages from one partition.

Real Tansu brokers (one with 8-partition topics, one with 1-partition topics) and real
Postgres; the messages go through kafka-python's default partitioner, not to chosen
partitions.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from infersight.sdk import wire
from infersight.sdk.keys import message_key
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage.db import make_engine, upgrade
from infersight.storage.models import PendingLabel
from kafka import KafkaProducer
from kafka.partitioner.default import murmur2
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tests.collector.conftest import install_references
from tests.collector.harness import (
    MetricKey,
    WorkerProcess,
    assert_same_metrics,
    create_topics,
    last_lines,
    metric_snapshot,
    progress,
    wait_until_done,
    worker_env,
)
from tests.collector.streams import make_stream
from tests.support.postgres import temporary_database
from tests.support.tansu import TansuBroker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

PARTITIONS = 8
MODEL = "hot"
UNKNOWN_LABELS = 5
"""Labels for predictions that never come: they stay pending (until the label TTL)."""
STREAM = make_stream(seed=21, models=(MODEL,), windows=3, events_per_window=120,
                     batch_size=10, event_partitions=PARTITIONS, label_partitions=PARTITIONS,
                     unknown_labels=UNKNOWN_LABELS)
STREAM_TS = datetime(2026, 1, 1, tzinfo=UTC)
Offsets = dict[tuple[str, int], int]
Snapshot = dict[MetricKey, tuple[float | None, int]]


def _produce_keyed(bootstrap: str, topic: str, values: Sequence[bytes]) -> Counter[int]:
    """Produce each message with the SDK's key and let the partitioner place it."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [producer.send(topic, key=message_key(MODEL, value), value=value)
                   for value in values]
        producer.flush(30)
        return Counter(future.get(30).partition for future in futures)
    finally:
        producer.close(5)


def _produce_stream(bootstrap: str) -> Offsets:
    """Labels for a third of the predictions first, then the predictions, then the rest."""
    labels = [value for _p, _k, value in STREAM.labels]
    events = [value for _p, _k, value in STREAM.events]
    third = len(labels) // 3
    counts = {LABELS_TOPIC: _produce_keyed(bootstrap, LABELS_TOPIC, labels[:third])}
    counts[EVENTS_TOPIC] = _produce_keyed(bootstrap, EVENTS_TOPIC, events)
    counts[LABELS_TOPIC] += _produce_keyed(bootstrap, LABELS_TOPIC, labels[third:])
    return {(topic, p): n for topic, by_partition in counts.items()
            for p, n in by_partition.items()}


@pytest.fixture(scope="module")
def spread(module_broker: TansuBroker) -> Offsets:
    """The stream on 8-partition topics."""
    create_topics(module_broker.bootstrap, {EVENTS_TOPIC: PARTITIONS, LABELS_TOPIC: PARTITIONS})
    return _produce_stream(module_broker.bootstrap)


@dataclass
class Run:
    """Workers of one consumer group on their own database."""

    name: str
    workers: int
    kill_one_at: float | None = None
    """SIGKILL the first worker once this share of the stream is committed."""
    url: str = ""
    running: list[WorkerProcess] = field(default_factory=list)

    def start(self, bootstrap: str, logs: Path) -> None:
        env = worker_env(self.url, bootstrap, self.name,
                         INFERSIGHT_WORKER_HOUSEKEEPING_INTERVAL="2s")  # raced labels join
        self.running = [WorkerProcess(env, logs / f"{self.name}-{i}.log")
                        for i in range(self.workers)]

    def stop(self) -> list[int]:
        alive = [worker for worker in self.running if worker.alive()]
        for worker in alive:  # all at once, then wait for each (a second SIGTERM could
            worker.process.send_signal(signal.SIGTERM)  # land in interpreter teardown)
        for worker in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(20)
        return [worker.stop() for worker in alive]


def _pending_labels(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(PendingLabel)).scalar_one())
    finally:
        engine.dispose()


def _wait_for(runs: Sequence[Run], expected: Mapping[str, Offsets], logs: Path) -> None:
    """Kill where asked, then wait until every run has committed and evaluated the whole
    stream and joined every label (labels that raced their prediction on another worker
    wait for its next housekeeping round)."""
    deadline = time.monotonic() + 150
    to_kill = [run for run in runs if run.kill_one_at is not None]
    while to_kill:
        for run in list(to_kill):
            share = progress(run.url, run.name, expected[run.name])
            assert share < 1.0, f"{run.name}: the stream ended before the kill"
            if share >= (run.kill_one_at or 0.0):
                run.running[0].kill()
                to_kill.remove(run)
        if to_kill:
            assert time.monotonic() < deadline, last_lines(logs / f"{to_kill[0].name}-0.log")
            time.sleep(0.02)
    for run in runs:
        try:
            wait_until_done(run.url, run.name, expected[run.name],
                            timeout=max(1.0, deadline - time.monotonic()))
            while _pending_labels(run.url) > UNKNOWN_LABELS:
                assert time.monotonic() < deadline, f"{run.name}: labels left pending"
                time.sleep(0.3)
            wait_until_done(run.url, run.name, expected[run.name], timeout=30)
        except TimeoutError:
            raise AssertionError(last_lines(logs / f"{run.name}-1.log")) from None


RUNS = (Run("one-partition", 1), Run("hot-1", 1), Run("hot-2", 2),
        Run("hot-4-one-killed", 4, kill_one_at=0.4))


@pytest.fixture(scope="module")
def finished(
    module_broker: TansuBroker, spread: Offsets, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Snapshot]]:
    """Every run at once (on 2 shared cores this is quicker than one after the other): one
    worker on 1-partition topics (its own broker), and 1, 2 and 4 workers on 8."""
    logs = tmp_path_factory.mktemp("hot-model")
    single = TansuBroker(log_path=logs / "tansu-single.log")
    single.start()
    with contextlib.ExitStack() as stack:
        stack.callback(single.stop)
        create_topics(single.bootstrap, {EVENTS_TOPIC: 1, LABELS_TOPIC: 1})
        expected = {run.name: spread for run in RUNS}
        expected["one-partition"] = _produce_stream(single.bootstrap)
        template = stack.enter_context(temporary_database("infersight_hot_template"))
        upgrade(template)
        install_references(template, (MODEL,))
        for run in RUNS:  # copies of the migrated database: quicker than migrating each
            run.url = stack.enter_context(temporary_database(
                "infersight_hot", template=make_url(template).database))
        try:
            for run in RUNS:
                run.start(single.bootstrap if run.name == "one-partition"
                          else module_broker.bootstrap, logs)
            _wait_for(RUNS, expected, logs)
        finally:
            codes = {run.name: run.stop() for run in RUNS}
        assert all(set(c) <= {0} for c in codes.values()), codes
        yield {run.name: metric_snapshot(run.url) for run in RUNS}


def _partition(key: bytes) -> int:
    """Where the Java client and kafka-python's default partitioner put a keyed message."""
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def test_the_sdk_key_spreads_one_models_batches_evenly_over_every_partition() -> None:
    batches = [wire.encode_batch([wire.Label(model=MODEL, prediction_id=f"p-{n}", label=1,
                                             ts=STREAM_TS)]) for n in range(4000)]
    used = Counter(_partition(message_key(MODEL, batch)) for batch in batches)
    assert set(used) == set(range(PARTITIONS))
    assert max(used.values()) < 1.2 * min(used.values()), used  # 500 ± 4 sd each


def test_the_broker_placed_the_stream_by_the_sdk_key(spread: Offsets) -> None:
    # The stream's timestamps are relative to today, so which partitions its few dozen
    # messages reach varies by day; that they go where their keys say does not.
    for topic, values in ((EVENTS_TOPIC, [v for _p, _k, v in STREAM.events]),
                          (LABELS_TOPIC, [v for _p, _k, v in STREAM.labels])):
        keyed = Counter(_partition(message_key(MODEL, value)) for value in values)
        placed = {p: n for (t, p), n in spread.items() if t == topic and n > 0}
        assert placed == dict(keyed), topic
        assert len(placed) > 1, topic


@pytest.mark.parametrize("run", [run.name for run in RUNS[1:]])
def test_one_model_on_8_partitions_gives_the_points_of_one_partition(
    finished: dict[str, Snapshot], run: str,
) -> None:
    baseline = finished["one-partition"]
    counts = [value for key, (value, _n) in baseline.items() if key[3:] == ("", "count")]
    assert sum(v or 0 for v in counts) == STREAM.prediction_count
    assert_same_metrics(baseline, finished[run])
