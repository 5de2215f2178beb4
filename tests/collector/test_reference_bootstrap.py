"""A model version with no uploaded reference: its predictions are held in the prediction
index (exactly-once, no memory), the first window's held predictions become its reference
(``first_window``) when that window closes, and everything held — labels included — then
enters the window states. Nothing is lost or counted twice."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.local_consumer import LocalConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.drift import Reference
from infersight.sdk.local_bus import LocalBus
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC, encode_batch
from infersight.storage.db import make_engine
from infersight.storage.models import MetricPoint, ModelVersion
from sqlalchemy import select

from tests.collector.inprocess import start
from tests.collector.streams import BASE_TS, features
from tests.collector.test_label_join import wait_for

MODEL = "fresh"


def label(pid: str, value: int) -> dict[str, object]:
    return {"type": "label", "model": MODEL, "prediction_id": pid, "label": value,
            "ts": BASE_TS.isoformat()}


def event(i: int, seconds: float, rng: random.Random) -> dict[str, object]:
    return {"type": "prediction", "model": MODEL, "version": "7", "prediction_id": f"f{i}",
            "ts": (BASE_TS + timedelta(seconds=seconds)).isoformat(),
            "features": features(rng), "prediction": rng.random()}


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_first_window_becomes_the_reference_and_nothing_is_lost(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("migrated_sqlite" if backend == "sqlite" else "migrated_postgres")
    rng = random.Random(3)
    events = [event(i, i * 0.25, rng) for i in range(720)]  # 3 windows of 60 s, 240 each
    bus = LocalBus()
    bus.publish(LABELS_TOPIC, b"fresh", encode_batch([label(f"f{i}", i % 2) for i in range(0, 60)]))
    for start_at in range(0, len(events), 40):
        bus.publish(EVENTS_TOPIC, b"fresh", encode_batch(events[start_at:start_at + 40]))
    bus.publish(LABELS_TOPIC, b"fresh", encode_batch([label(f"f{i}", 1) for i in range(60, 120)]))
    engine = make_engine(url)
    config = WorkerConfig(window_s=60, eval_interval_s=0.3, group="boot", poll_timeout_s=0.05,
                          bootstrap_interval_s=0.2, max_records=3)
    running = start(Worker(LocalConsumerBus(bus, [EVENTS_TOPIC, LABELS_TOPIC]), engine, config))

    def counts() -> dict[object, float | None]:
        with engine.connect() as conn:
            return dict(conn.execute(
                select(MetricPoint.window_start, MetricPoint.value).where(
                    MetricPoint.model == MODEL, MetricPoint.metric == "count",
                    MetricPoint.feature == "")).all())

    try:
        wait_for(lambda: sum(v or 0 for v in counts().values()) == len(events), timeout=60)
        coverage = select(MetricPoint.value).where(
            MetricPoint.model == MODEL, MetricPoint.metric == "label_coverage",
            MetricPoint.window_start == BASE_TS)
        wait_for(lambda: _scalar(engine, coverage) == 0.5, timeout=30)
    finally:
        running.stop()
    expected = Counter(BASE_TS + timedelta(seconds=60 * (i * 0.25 // 60)) for i in range(720))
    assert counts() == {start: float(n) for start, n in expected.items()}
    with engine.connect() as conn:
        blob, source = conn.execute(select(ModelVersion.reference, ModelVersion.reference_source)
                                    .where(ModelVersion.model == MODEL)).one()
    engine.dispose()
    assert source == "first_window"
    reference = Reference.from_bytes(blob)
    first_window = [e for e in events[:240]]
    independent = Reference.from_data(
        {name: [e["features"].get(name) for e in first_window]  # type: ignore[attr-defined]
         for name in first_window[0]["features"]},  # type: ignore[union-attr]
        predictions=[e["prediction"] for e in first_window],
    )
    assert reference.rows == 240
    assert reference.fingerprint == independent.fingerprint  # same bins, same vocabulary


def _scalar(engine: object, query: object) -> object:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return conn.execute(query).scalar_one_or_none()
