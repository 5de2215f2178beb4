"""The label join in any order, on SQLite and Postgres: labels before their prediction,
labels days of event time later (for a closed, evicted window), duplicated labels, and
labels for predictions that never come (dead-lettered as ``unmatched_label`` after the TTL).
Performance metrics are checked against scikit-learn on the same labels."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.local_consumer import LocalConsumerBus, LocalDeadLetterPublisher
from infersight.collector.worker.loop import Worker
from infersight.sdk.local_bus import LocalBus
from infersight.sdk.wire import DEADLETTER_TOPIC, EVENTS_TOPIC, LABELS_TOPIC, encode_batch
from infersight.storage.db import make_engine
from infersight.storage.labels import lookup_predictions
from infersight.storage.models import DeadLetter, MetricPoint, PendingLabel, PredictionIndex
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.collector.inprocess import start
from tests.collector.streams import BASE_TS, features

GROUP = "labels"
W0 = BASE_TS
"""The window the joined predictions belong to (60 s windows)."""


def prediction(pid: str, ts_offset_s: float, score: float, rng: random.Random) -> dict[str, Any]:
    return {"type": "prediction", "model": "fraud", "version": "1", "prediction_id": pid,
            "ts": (W0 + timedelta(seconds=ts_offset_s)).isoformat(),
            "features": features(rng), "prediction": score}


def label(pid: str, value: int, days_later: float = 0.0) -> dict[str, Any]:
    return {"type": "label", "model": "fraud", "prediction_id": pid, "label": value,
            "ts": (W0 + timedelta(days=days_later)).isoformat()}


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def scalar(engine: Engine, query: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def point(engine: Engine, metric: str) -> tuple[float | None, int] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(MetricPoint.value, MetricPoint.sample_size).where(
                MetricPoint.model == "fraud", MetricPoint.window_start == W0,
                MetricPoint.feature == "", MetricPoint.metric == metric)
        ).first()
    return None if row is None else (row[0], row[1])


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_labels_join_in_any_order_exactly_once(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("migrated_sqlite" if backend == "sqlite" else "migrated_postgres")
    rng = random.Random(5)
    scores = [rng.random() for _ in range(100)]
    truth = [int(rng.random() < s) for s in scores]
    ids = [f"p{i}" for i in range(100)]
    bus = LocalBus()
    engine = make_engine(url)
    config = WorkerConfig(window_s=60, eval_interval_s=0.3, group=GROUP, poll_timeout_s=0.05,
                          label_ttl_s=2.0, housekeeping_interval_s=0.5)
    running = start(Worker(LocalConsumerBus(bus, [EVENTS_TOPIC, LABELS_TOPIC]), engine, config,
                           deadletters=LocalDeadLetterPublisher(bus, DEADLETTER_TOPIC)))
    pending = select(func.count()).select_from(PendingLabel)
    try:
        # 1. Labels of the first half arrive before their predictions: they wait.
        bus.publish(LABELS_TOPIC, b"fraud", encode_batch([label(p, t) for p, t in
                                                          zip(ids[:50], truth[:50], strict=True)]))
        wait_for(lambda: scalar(engine, pending) == 50)
        # 2. The predictions (window W0) arrive and take their waiting labels.
        for start_at in range(0, 100, 25):
            bus.publish(EVENTS_TOPIC, b"fraud", encode_batch([
                prediction(ids[i], i * 0.5, scores[i], rng) for i in range(start_at, start_at + 25)
            ]))
        wait_for(lambda: scalar(engine, pending) == 0)
        # 3. Three days of event time pass: W0 closes (and leaves the worker's memory).
        bus.publish(EVENTS_TOPIC, b"fraud", encode_batch([
            prediction(f"later{i}", 3 * 86400 + i, 0.5, rng) for i in range(20)
        ]))
        wait_for(lambda: point(engine, "label_coverage") == (0.5, 100))
        cache = running.worker.cache
        wait_for(lambda: not any(key[2] == W0 for key in list(cache._entries)))  # evicted
        # 4. The other half's labels arrive days later, plus duplicates that disagree with
        #    the first label (ignored) and labels of predictions that never come.
        late = [label(p, t, days_later=3) for p, t in zip(ids[50:], truth[50:], strict=True)]
        duplicates = [label(p, 1 - t, days_later=3) for p, t in zip(ids[:10], truth[:10],
                                                                     strict=True)]
        ghosts = [label(f"ghost{i}", 1) for i in range(7)]
        bus.publish(LABELS_TOPIC, b"fraud", encode_batch(late[:25] + duplicates + ghosts))
        bus.publish(LABELS_TOPIC, b"fraud", encode_batch(late[25:] + late[:5]))
        wait_for(lambda: point(engine, "label_coverage") == (1.0, 100))
        # 5. The unknown predictions' labels expire after the TTL: dead letters.
        unmatched = select(func.count()).select_from(DeadLetter).where(
            DeadLetter.reason == "unmatched_label")
        wait_for(lambda: scalar(engine, unmatched) == 7)
        assert running.thread.is_alive()
    finally:
        running.stop()

    predicted = [int(s >= 0.5) for s in scores]
    accuracy = point(engine, "accuracy")
    assert accuracy is not None
    assert accuracy[1] == 100
    assert accuracy[0] == pytest.approx(accuracy_score(truth, predicted), abs=1e-12)
    f1 = point(engine, "f1")
    assert f1 is not None and f1[0] == pytest.approx(f1_score(truth, predicted), abs=1e-12)
    auc = point(engine, "roc_auc")  # from 100-bin score histograms
    assert auc is not None and auc[0] == pytest.approx(roc_auc_score(truth, scores), abs=0.02)
    with Session(engine) as session:
        found = lookup_predictions(session, [("fraud", pid) for pid in ids])
        stored = {pid: found[("fraud", pid)].label for pid in ids}
    assert stored == dict(zip(ids, truth, strict=True))  # duplicates never overwrite
    assert scalar(engine, pending) == 0
    assert running.worker.metrics.labels_duplicate._value.get() == 15
    engine.dispose()


@pytest.mark.postgres
def test_concept_drift_detectors_follow_the_error_stream_like_river(migrated_postgres: str) -> None:
    """Errors jump from 10% to 90%: the stored detectors flag it, and their states match
    river's detectors fed the same error stream in prediction-time order."""
    from infersight.drift.detectors import DriftDetector
    from infersight.storage.detectors import load_detector_states
    from river import drift as river_drift

    rng = random.Random(9)
    n = 600
    scores = [rng.random() for _ in range(n)]
    predicted = [int(s >= 0.5) for s in scores]
    wrong = [rng.random() < (0.1 if i < n // 2 else 0.9) for i in range(n)]
    truth = [1 - p if w else p for p, w in zip(predicted, wrong, strict=True)]
    bus = LocalBus()
    engine = make_engine(migrated_postgres)
    config = WorkerConfig(window_s=60, eval_interval_s=0.3, group=GROUP, poll_timeout_s=0.05)
    running = start(Worker(LocalConsumerBus(bus, [EVENTS_TOPIC, LABELS_TOPIC]), engine, config))
    try:
        for start_at in range(0, n, 50):
            bus.publish(EVENTS_TOPIC, b"fraud", encode_batch([
                prediction(f"c{i}", i * 0.1, scores[i], rng) for i in range(start_at, start_at + 50)
            ]))
        # Labels arrive shuffled within each batch: the detectors sort by prediction time.
        for start_at in range(0, n, 100):
            chunk = [label(f"c{i}", truth[i]) for i in range(start_at, start_at + 100)]
            rng.shuffle(chunk)
            bus.publish(LABELS_TOPIC, b"fraud", encode_batch(chunk))
        labelled = select(func.count()).select_from(PredictionIndex).where(
            PredictionIndex.label.is_not(None))
        wait_for(lambda: scalar(engine, labelled) == n)
    finally:
        running.stop()
    with engine.connect() as conn:
        from sqlalchemy.orm import Session

        states = load_detector_states(Session(bind=conn), "fraud", "1")
    engine.dispose()
    errors_in_time_order = [float(w) for w in wrong]
    for name in ("DDM", "EDDM", "ADWIN", "PageHinkley"):
        state = states[("fraud", "1", name)]
        assert state["updates"] == n
        ours = DriftDetector.from_dict(state["detector"])
        theirs = getattr(river_drift.binary if name in ("DDM", "EDDM") else river_drift, name)()
        drifts = 0
        for error in errors_in_time_order:
            theirs.update(error)
            drifts += theirs.drift_detected
        assert state["drifts"] == drifts, name
        assert ours.drift_detected == theirs.drift_detected, name
    assert states[("fraud", "1", "DDM")]["drifts"] >= 1
