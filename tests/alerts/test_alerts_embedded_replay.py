"""Embedded mode over a long replay (issue: "database is locked" and duplicate deliveries):
the worker, the dispatcher and the API share one SQLite writer path, so a replay of a
thousand windows, arriving in chunks while an alert fires and resolves between the worker's
evaluation rounds, logs no lock error and delivers every notification exactly once to a real
webhook receiver. (Rules are judged once per round at the latest window, so a chunk's
intermediate windows are not each notified: see docs/pipeline.md.)"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from infersight.sdk.local_bus import LocalBus
from infersight.sdk.wire import EVENTS_TOPIC, encode_batch
from infersight.storage.alert_tables import AlertNotification, AlertState
from infersight.storage.db import session_factory
from infersight.storage.models import MetricPoint
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from infersight.embedded import embedded_settings, start_embedded
from infersight.settings import Settings
from tests.alerts.receivers import Receiver
from tests.support.tansu import free_port

WINDOWS = 1000
CHUNK = 25
ROWS = 5
T0 = datetime(2024, 3, 1, tzinfo=UTC)
DEADLINE_S = 240.0


def _window_batch(window: int) -> bytes:
    """ROWS predictions in minute ``window``; every other minute is slow (p99 200 ms)."""
    start = T0 + timedelta(minutes=window)
    latency = 200.0 if window % 2 == 0 else 20.0
    return encode_batch([
        {"type": "prediction", "model": "replay", "version": "1",
         "prediction_id": f"w{window}-{row}", "ts": start + timedelta(seconds=10 * row),
         "features": {"x": float(row)}, "prediction": 0.5, "latency_ms": latency}
        for row in range(ROWS)
    ])


def _wait_judged(sessions: sessionmaker[Session], window: int, started: float) -> None:
    """Until window ``window`` has its points and the rules were judged after them."""
    start = T0 + timedelta(minutes=window)
    while True:
        with sessions() as session:
            point = session.scalar(select(MetricPoint).where(
                MetricPoint.metric == "latency_p99_ms", MetricPoint.window_start == start))
            beat = session.scalar(select(AlertState).where(AlertState.rule == "heartbeat"))
            if point is not None and beat is not None and beat.updated_at >= point.evaluated_at:
                return
        assert time.monotonic() - started < DEADLINE_S, f"window {window} was not judged"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(DEADLINE_S + 60)
def test_a_long_replay_locks_nothing_and_delivers_each_notification_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver().start()
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "channels:\n"
        f"  hook: {{type: webhook, url: '{receiver.url}'}}\n"
        "default_channels: [hook]\n"
        "rules:\n"
        "  - {name: slow, metric: latency_p99_ms, op: '>', threshold: 100, min_samples: 1}\n"
        "  - {name: heartbeat, metric: count, op: '>', threshold: -1, channels: [hook]}\n"
    )
    settings = embedded_settings(Settings(
        database_url=f"sqlite:///{tmp_path / 'replay.db'}", window=60.0, eval_interval=0.5,
        # the replay is of 2024: its windows are kept
        window_state_retention="3650d", health_state_retention="3650d", metric_retention="3650d",
        alert_rules=rules, alert_dispatch_interval=0.2, alert_disabled_rules=(
            "data_drift_share,prediction_drift,label_coverage_low,latency_p99_slo"),
    ))
    caplog.set_level(logging.WARNING)
    bus = LocalBus()
    started = time.monotonic()
    try:
        with start_embedded(settings, port=free_port(), bus=bus) as stack:
            sessions = session_factory(stack.engine)
            for first in range(0, WINDOWS, CHUNK):
                for window in range(first, first + CHUNK):
                    bus.publish(EVENTS_TOPIC, b"replay", _window_batch(window))
                # the chunk's last window stays open until the next chunk: wait for the one before
                _wait_judged(sessions, first + CHUNK - 2, started)
            bus.publish(EVENTS_TOPIC, b"replay", _window_batch(WINDOWS + 10))  # closes the rest
            # judged with the open window last: later rounds judge the same windows again
            _wait_judged(sessions, WINDOWS + 10, started)
            while True:
                with sessions() as session:
                    written = session.scalar(
                        select(func.count()).select_from(AlertNotification)
                        .where(AlertNotification.dedup_key.like("slow/%")))
                    pending = session.scalar(
                        select(func.count()).select_from(AlertNotification)
                        .where(AlertNotification.state == "pending"))
                if pending == 0:
                    break
                assert time.monotonic() - started < DEADLINE_S, (written, pending)
                time.sleep(0.2)
    finally:
        receiver.stop()
    locked = [r.getMessage() for r in caplog.records if "database is locked" in r.getMessage()]
    assert locked == []
    keys = Counter(r["headers"].get("idempotency-key") for r in receiver.accepted)
    assert written >= WINDOWS // CHUNK // 4  # it fired and resolved many times
    assert sum(1 for r in receiver.accepted if r["json"]["rule"] == "slow") == written
    assert [key for key, count in keys.items() if count > 1] == []
