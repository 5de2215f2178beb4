"""The worker's housekeeping applies ``INFERSIGHT_DEAD_LETTER_RETENTION`` and
``INFERSIGHT_PREDICTION_RETENTION``: older rows are purged, newer ones kept; a prediction older
than ``INFERSIGHT_WINDOW_STATE_RETENTION`` is dead-lettered."""

from __future__ import annotations

from datetime import timedelta

from infersight.collector.worker.config import WorkerConfig
from infersight.collector.worker.local_consumer import LocalConsumerBus
from infersight.collector.worker.loop import Worker
from infersight.sdk.local_bus import LocalBus
from infersight.sdk.wire import EVENTS_TOPIC, LABELS_TOPIC, Prediction, encode_batch
from infersight.storage.db import make_engine
from infersight.storage.deadletters import DeadLetterRecord, add_dead_letters
from infersight.storage.labels import insert_predictions, lookup_predictions
from infersight.storage.models import DeadLetter
from infersight.storage.types import utc_now
from sqlalchemy import select
from sqlalchemy.orm import Session

from infersight.settings import Settings
from infersight.worker_service import worker_config


def test_the_dead_letter_retention_setting_reaches_the_worker() -> None:
    config = worker_config(Settings(dead_letter_retention="2d", prediction_retention="3d"))
    assert config.dead_letter_retention_s == 2 * 86400.0
    assert config.prediction_retention_s == 3 * 86400.0


def test_housekeeping_purges_dead_letters_and_indexed_predictions_past_retention(
    migrated_sqlite: str,
) -> None:
    engine = make_engine(migrated_sqlite)
    now = utc_now()
    ages_h = (1, 47, 49, 24 * 40)
    with Session(engine) as session, session.begin():
        add_dead_letters(session, [DeadLetterRecord("invalid_json", detail=f"{h}h",
                                                    created_at=now - timedelta(hours=h))
                                   for h in ages_h])
        insert_predictions(session, [
            {"model": "fraud", "prediction_id": f"{h}h", "version": "1",
             "window_start": now - timedelta(hours=h), "ts": now - timedelta(hours=h),
             "prediction": 0.5}
            for h in ages_h
        ])
    config = WorkerConfig(window_s=60, group="retention", poll_timeout_s=0.01,
                          dead_letter_retention_s=48 * 3600.0,
                          prediction_retention_s=24 * 3600.0)
    worker = Worker(LocalConsumerBus(LocalBus(), [EVENTS_TOPIC, LABELS_TOPIC]), engine, config)
    try:
        worker.step()  # the first step runs housekeeping
        with Session(engine) as session:
            letters = set(session.scalars(select(DeadLetter.detail)))
            indexed = {pid for _m, pid in lookup_predictions(
                session, [("fraud", f"{h}h") for h in ages_h])}
        assert letters == {"1h", "47h"}
        assert indexed == {"1h"}
    finally:
        worker.close()
        engine.dispose()


def test_the_window_table_retention_settings_reach_the_worker() -> None:
    config = worker_config(Settings(window_state_retention="5d", health_state_retention="6d",
                                    metric_retention="7d"))
    assert (config.window_state_retention_s, config.health_state_retention_s,
            config.metric_retention_s) == (5 * 86400.0, 6 * 86400.0, 7 * 86400.0)


def test_a_prediction_older_than_the_window_state_retention_is_dead_lettered(
    migrated_sqlite: str,
) -> None:
    now = utc_now()
    bus = LocalBus()
    bus.publish(EVENTS_TOPIC, b"fraud", bytes(encode_batch([
        Prediction(model="fraud", version="1", prediction_id=pid, ts=now - age,
                   features={"x": 1.0}, prediction=0.5)
        for pid, age in (("old", timedelta(days=3)), ("recent", timedelta(hours=1)))])))
    engine = make_engine(migrated_sqlite)
    config = WorkerConfig(window_s=60, group="retention", poll_timeout_s=0.01,
                          window_state_retention_s=2 * 86400.0)
    worker = Worker(LocalConsumerBus(bus, [EVENTS_TOPIC, LABELS_TOPIC]), engine, config)
    try:
        for _ in range(100):  # until the one message is committed
            if worker.step():
                break
        with Session(engine) as session:
            letters = session.execute(select(DeadLetter.reason, DeadLetter.detail)).all()
            indexed = {pid for _m, pid in lookup_predictions(
                session, [("fraud", "old"), ("fraud", "recent")])}
        assert [reason for reason, _ in letters] == ["invalid_value"]
        assert "'old'" in letters[0][1] and "window-state retention" in letters[0][1]
        assert indexed == {"recent"}
    finally:
        worker.close()
        engine.dispose()
