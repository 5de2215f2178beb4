"""Migrations up, down and up again on Postgres and SQLite, then a worker runs on the
re-created schema (the worker's tables and columns are all there)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.local_consumer import LocalConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.sdk.local_bus import LocalBus
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC
from infersight.storage.db import current_revision, downgrade, upgrade
from sqlalchemy import inspect

from tests.collector.conftest import install_references
from tests.collector.harness import metric_snapshot, wait_until_done
from tests.collector.inprocess import start
from tests.collector.streams import make_stream
from tests.support.postgres import temporary_database

WORKER_TABLES = {"models", "model_versions", "window_states", "consumer_offsets",
                 "metric_points", "prediction_index", "pending_labels", "dead_letters",
                 "detector_states", "watermarks"}


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
    else:
        with temporary_database("infersight_migrations") as url:
            yield url


@pytest.mark.postgres
def test_migrations_round_trip_then_the_worker_runs(empty_database: str) -> None:
    from infersight.storage.db import make_engine

    url = empty_database
    upgrade(url)
    head = current_revision(url)
    downgrade(url, "base")
    engine = make_engine(url)
    assert not WORKER_TABLES & set(inspect(engine).get_table_names())
    upgrade(url)
    assert current_revision(url) == head
    assert set(inspect(engine).get_table_names()) >= WORKER_TABLES
    install_references(url)
    stream = make_stream(seed=4, windows=2, events_per_window=100)
    bus = LocalBus()
    for _p, key, value in stream.events:
        bus.publish(EVENTS_TOPIC, key, value)
    for _p, key, value in stream.labels:
        bus.publish(LABELS_TOPIC, key, value)
    config = WorkerConfig(window_s=60, eval_interval_s=0.3, group="mig", poll_timeout_s=0.05)
    running = start(Worker(LocalConsumerBus(bus, [EVENTS_TOPIC, LABELS_TOPIC]), engine, config))
    try:
        wait_until_done(url, "mig", {(EVENTS_TOPIC, 0): len(stream.events),
                                     (LABELS_TOPIC, 0): len(stream.labels)}, timeout=60)
    finally:
        running.stop()
    engine.dispose()
    counted = sum(value or 0 for (_m, _v, _s, feature, metric), (value, _n)
                  in metric_snapshot(url).items() if metric == "count" and feature == "")
    assert counted == stream.prediction_count
