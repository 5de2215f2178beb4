"""Evaluation rounds: a window touched by many label batches is evaluated once per round,
and each (model, version)'s alert rules are judged once per round, not once per window."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.local_consumer import LocalConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.sdk.local_bus import LocalBus
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC, encode_batch
from infersight.storage.db import make_engine
from infersight.storage.models import MetricPoint
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.collector.streams import BASE_TS, features

WINDOWS = 5
LABEL_BATCHES = 50


class CountingObserver:
    """Counts alert judgements per (model, version)."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()

    def judge(
        self, session: Session, model: str, version: str,
        reference_performance: Mapping[str, float], now: datetime,
    ) -> None:
        self.calls[(model, version)] += 1


def window(i: int) -> datetime:
    return BASE_TS + timedelta(minutes=i)


def predictions(model: str, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """``n`` predictions in each of the ``WINDOWS`` windows, then one that closes them."""
    events = [
        {"type": "prediction", "model": model, "version": "1", "prediction_id": f"{w}-{i}",
         "ts": (window(w) + timedelta(seconds=i % 60)).isoformat(),
         "features": features(rng), "prediction": rng.random()}
        for w in range(WINDOWS) for i in range(n)
    ]
    events.append({**events[0], "prediction_id": "closer",
                   "ts": (window(WINDOWS + 1) + timedelta(seconds=30)).isoformat()})
    return events


def label_batches(model: str, n: int) -> list[bytes]:
    """``LABEL_BATCHES`` messages, each with labels for predictions of every window."""
    ids = [f"{w}-{i}" for i in range(n) for w in range(WINDOWS)]
    per_batch = len(ids) // LABEL_BATCHES
    return [
        encode_batch([{"type": "label", "model": model, "prediction_id": pid,
                       "label": int(pid.endswith(("1", "3", "5"))),
                       "ts": window(WINDOWS + 2).isoformat()}
                      for pid in ids[b * per_batch:(b + 1) * per_batch]])
        for b in range(LABEL_BATCHES)
    ]


def coverage(engine: Engine, model: str) -> list[float | None]:
    with engine.connect() as conn:
        return list(conn.execute(
            select(MetricPoint.value).where(
                MetricPoint.model == model, MetricPoint.feature == "",
                MetricPoint.metric == "label_coverage", MetricPoint.window_start < window(WINDOWS))
            .order_by(MetricPoint.window_start)).scalars())


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_window_touched_by_fifty_label_batches_is_evaluated_once_per_round(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("migrated_sqlite" if backend == "sqlite" else "migrated_postgres")
    engine = make_engine(url)
    bus = LocalBus()
    rng = random.Random(3)
    per_window = 20
    # Rounds while busy come only every hour: the only rounds are the ones the idle worker
    # runs; housekeeping (and its stale-window sweep) runs once, at the first step.
    config = WorkerConfig(window_s=60, eval_interval_s=3600.0, eval_round_s=3600.0,
                          housekeeping_interval_s=3600.0, group="rounds", poll_timeout_s=0.0,
                          max_records=4)
    observer = CountingObserver()
    worker = Worker(LocalConsumerBus(bus, [EVENTS_TOPIC, LABELS_TOPIC]), engine, config,
                    alerting=observer)
    try:
        assert worker.step() == 0  # assignment, seek, first housekeeping: nothing to do yet
        for model in ("fraud", "churn"):
            bus.publish(EVENTS_TOPIC, model.encode(),
                        encode_batch(predictions(model, per_window, rng)))
        assert worker.step() == 2  # both messages: busy, but the first round is due at once
        assert worker.step() == 0  # idle: nothing left dirty but the open window
        evaluated = worker.metrics.window_evaluations._value.get()
        assert evaluated == 2 * WINDOWS  # the open window of the closing event waits
        assert observer.calls == {("fraud", "1"): 1, ("churn", "1"): 1}
        assert coverage(engine, "fraud") == [0.0] * WINDOWS

        for model in ("fraud", "churn"):
            for message in label_batches(model, per_window):
                bus.publish(LABELS_TOPIC, model.encode(), message)
        busy_steps = 0
        while worker.step():  # 4 label batches per step: busy, no round
            busy_steps += 1
            assert worker.metrics.window_evaluations._value.get() == evaluated
        assert busy_steps == 2 * LABEL_BATCHES // 4
        # the idle step ran one round: each window once, each version judged once
        assert worker.metrics.window_evaluations._value.get() == evaluated + 2 * WINDOWS
        assert observer.calls == {("fraud", "1"): 2, ("churn", "1"): 2}
        assert worker.metrics.labels_joined._value.get() == 2 * WINDOWS * per_window
        assert coverage(engine, "fraud") == [1.0] * WINDOWS
        open_window = {(model, "1", window(WINDOWS + 1)) for model in ("fraud", "churn")}
        assert set(worker.evaluations.dirty) == open_window  # waits for its provisional round
    finally:
        worker.close()
        engine.dispose()
