"""Run a worker in a thread of the test process (faster than a subprocess when no SIGKILL
is involved)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.kafka_bus import KafkaConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import Engine

from tests.collector.harness import wait_until_done


@dataclass
class RunningWorker:
    worker: Worker
    thread: threading.Thread
    stop_event: threading.Event
    error: list[BaseException]

    def stop(self, timeout: float = 15.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "worker thread did not stop"
        if self.error:
            raise self.error[0]


def start(worker: Worker) -> RunningWorker:
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run(stop)
        except BaseException as exc:  # reported by stop()
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return RunningWorker(worker, thread, stop, errors)


def events_end_offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    """The end offset of every non-empty partition of the events topic."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(EVENTS_TOPIC, p)
                      for p in sorted(consumer.partitions_for_topic(EVENTS_TOPIC) or ())]
        return {(tp.topic, tp.partition): n for tp, n in consumer.end_offsets(partitions).items()
                if n}
    finally:
        consumer.close()


def consume_all(bootstrap: str, engine: Engine, url: str, group: str, window_s: float,
                **worker_options: Any) -> None:
    """Run one in-process worker on the real broker until everything produced to the events
    topic so far is committed and evaluated (``harness.wait_until_done``), then stop it."""
    expected = events_end_offsets(bootstrap)
    assert sum(expected.values()) > 0
    bus = KafkaConsumerBus(bootstrap, group, [EVENTS_TOPIC, LABELS_TOPIC],
                           session_timeout_ms=6000, heartbeat_interval_ms=1000)
    config = WorkerConfig(window_s=window_s, eval_interval_s=0.5, group=group,
                          poll_timeout_s=0.2)
    running = start(Worker(bus, engine, config, **worker_options))
    try:
        wait_until_done(url, group, expected, timeout=90)
    finally:
        running.stop()
