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


def test_a_models_threshold_applies_to_its_first_window_reference(migrated_sqlite: str) -> None:
    """``PUT /v1/models/{model}`` set a threshold: the bootstrapped reference classifies scores
    with it, so the model's binary metrics differ from those of a twin on the default 0.5."""
    from infersight.storage.db import session_factory
    from infersight.storage.registry import configure_model

    engine = make_engine(migrated_sqlite)
    with session_factory(engine).begin() as session:
        configure_model(session, "strict", threshold=0.9)
    rng = random.Random(5)
    bus = LocalBus()
    for model in ("fresh", "strict"):
        events = [{**event(i, i * 0.25, rng), "model": model} for i in range(720)]
        for start_at in range(0, len(events), 60):
            bus.publish(EVENTS_TOPIC, model.encode(), encode_batch(events[start_at:start_at + 60]))
        bus.publish(LABELS_TOPIC, model.encode(), encode_batch(
            [{**label(f"f{i}", i % 2), "model": model} for i in range(240)]))
    config = WorkerConfig(window_s=60, eval_interval_s=0.3, group="threshold",
                          poll_timeout_s=0.05, bootstrap_interval_s=0.2)
    running = start(Worker(LocalConsumerBus(bus, [EVENTS_TOPIC, LABELS_TOPIC]), engine, config))

    def recall(model: str) -> object:
        return _scalar(engine, select(MetricPoint.value).where(
            MetricPoint.model == model, MetricPoint.metric == "recall",
            MetricPoint.feature == "",
            MetricPoint.window_start == BASE_TS))

    def coverage(model: str) -> object:
        return _scalar(engine, select(MetricPoint.value).where(
            MetricPoint.model == model, MetricPoint.metric == "label_coverage",
            MetricPoint.window_start == BASE_TS))

    try:
        wait_for(lambda: coverage("fresh") == 1.0 and coverage("strict") == 1.0, timeout=60)
    finally:
        running.stop()
    with engine.connect() as conn:
        thresholds = {model: Reference.from_bytes(blob).prediction_spec.threshold
                      for model, blob in conn.execute(
                          select(ModelVersion.model, ModelVersion.reference).where(
                              ModelVersion.model.in_(("fresh", "strict"))))}
    default, strict = recall("fresh"), recall("strict")
    engine.dispose()
    assert thresholds == {"fresh": 0.5, "strict": 0.9}
    assert isinstance(default, float) and isinstance(strict, float)
    assert 0.3 < default < 0.7 and strict < 0.25  # scores uniform on [0, 1), labels random
