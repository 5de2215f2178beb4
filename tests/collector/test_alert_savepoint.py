"""Alert rules are judged in a savepoint of the evaluation's transaction: a rule that writes
and then raises leaves no row behind, and the window's metric points still commit."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import pytest
from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.local_consumer import LocalConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.sdk.local_bus import LocalBus
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC, encode_batch
from infersight.storage.db import make_engine
from infersight.storage.deadletters import DeadLetterRecord, add_dead_letters, count_dead_letters
from infersight.storage.models import MetricPoint
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.collector.streams import BASE_TS, features


class WritingRule:
    """An alerting object that writes a row, then optionally raises."""

    def __init__(self, fail_with: Exception | None) -> None:
        self.fail_with = fail_with
        self.calls = 0

    def judge(
        self, session: Session, model: str, version: str,
        reference_performance: Mapping[str, float], now: datetime,
    ) -> None:
        self.calls += 1
        add_dead_letters(session, [DeadLetterRecord("written-by-rule", detail=model)])
        session.flush()
        if self.fail_with is not None:
            raise self.fail_with


def events(n: int) -> bytes:
    rng = random.Random(5)
    return encode_batch([
        {"type": "prediction", "model": "fraud", "version": "1", "prediction_id": f"p{i}",
         "ts": (BASE_TS + timedelta(seconds=i * 0.1)).isoformat(),
         "features": features(rng), "prediction": rng.random()}
        for i in range(n)
    ])


def run_until(worker: Worker, done: Callable[[], bool], steps: int = 50) -> None:
    for _ in range(steps):
        worker.step()
        if done():
            return
    raise AssertionError("the worker did not get there")


def count_point(engine: Engine) -> float | None:
    with engine.connect() as conn:
        return conn.execute(select(MetricPoint.value).where(
            MetricPoint.model == "fraud", MetricPoint.metric == "count",
            MetricPoint.feature == "")).scalar_one_or_none()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("fails", [True, False])
def test_a_failing_alert_rule_loses_its_writes_but_not_the_metric_points(
    backend: str, fails: bool, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("migrated_sqlite" if backend == "sqlite" else "migrated_postgres")
    engine = make_engine(url)
    bus = LocalBus()
    bus.publish(EVENTS_TOPIC, b"fraud", events(50))
    rule = WritingRule(RuntimeError("rule bug") if fails else None)
    config = WorkerConfig(window_s=60, eval_interval_s=0.0, group="alerts", poll_timeout_s=0.01)
    worker = Worker(LocalConsumerBus(bus, [EVENTS_TOPIC, LABELS_TOPIC]), engine, config,
                    alerting=rule)
    try:
        run_until(worker, lambda: count_point(engine) is not None)
        assert count_point(engine) == 50.0
        assert rule.calls >= 1
        with Session(engine) as session:
            written = count_dead_letters(session).get("written-by-rule", 0)
        assert written == (0 if fails else rule.calls)
        assert not worker.evaluations.dirty  # the evaluation committed despite the rule
    finally:
        worker.close()
        engine.dispose()
