"""Delivery through the outbox to real HTTP receivers on 127.0.0.1: signatures, exactly one
notification per transition, retries with backoff, give-up into dead, crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from infersight.alerts.config import AlertConfig
from infersight.alerts.dispatcher import Dispatcher
from infersight.alerts.judge import judge_window
from infersight.storage.alert_tables import AlertNotification
from infersight.storage.outbox import list_notifications
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.conftest import HOUR, T0, seed
from tests.alerts.receivers import Receiver

SECRET = "test-webhook-secret"
SLOW_RULE = {"name": "slow", "metric": "latency_p99_ms", "op": ">", "threshold": 100}


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALERT_TEST_SECRET", SECRET)
    server = Receiver(secret=SECRET).start()
    yield server
    server.stop()


def webhook_config(url: str, **extra: object) -> AlertConfig:
    return AlertConfig.model_validate(
        {
            "channels": {
                "hook": {
                    "type": "webhook",
                    "url": url,
                    "secret_env": "ALERT_TEST_SECRET",
                    "timeout": "2s",
                }
            },
            "default_channels": ["hook"],
            "rules": [SLOW_RULE],
            "disable": ["data_drift_share", "retraining_recommended"],
            "backoff_initial": 1.0,
            "backoff_max": 60.0,
            **extra,
        }
    )


def evaluate(sessions: sessionmaker[Session], index: int, cfg: AlertConfig) -> None:
    with sessions.begin() as session:
        judge_window(session, "fraud", "3", {}, T0 + (index + 1) * HOUR, cfg)


def rows(sessions: sessionmaker[Session]) -> list[AlertNotification]:
    with sessions() as session:
        return list(session.scalars(select(AlertNotification).order_by(AlertNotification.id)))


def test_firing_then_resolved_delivers_exactly_one_signed_notification_each(sessions, receiver):
    cfg = webhook_config(receiver.url)
    dispatcher = Dispatcher(sessions, cfg, clock=Clock(T0 + 10 * HOUR))
    seed(sessions, "latency_p99_ms", [150.0])
    evaluate(sessions, 0, cfg)
    evaluate(sessions, 0, cfg)
    assert dispatcher.run_once().sent == 1
    assert dispatcher.run_once().sent == 0
    seed(sessions, "latency_p99_ms", [40.0], first=1)
    evaluate(sessions, 1, cfg)
    evaluate(sessions, 1, cfg)
    assert dispatcher.run_once().sent == 1
    assert dispatcher.run_once().sent == 0
    dispatcher.close()

    assert receiver.bad_signatures == 0
    bodies = [r["json"] for r in receiver.accepted]
    assert [b["status"] for b in bodies] == ["firing", "resolved"]
    assert all(
        r["headers"]["x-infersight-signature"].startswith("sha256=") for r in receiver.accepted
    )
    keys = receiver.delivered_keys()
    assert len(set(keys)) == 2 and all(len(k) == 64 for k in keys)
    assert [b["idempotency_key"] for b in bodies] == keys
    firing = bodies[0]
    assert firing["value"] == 150.0 and firing["threshold"] == 100.0
    assert firing["dedup_key"] == "slow/fraud/3/" and firing["model"] == "fraud"
    assert firing["windows"][0]["window_start"] == T0.isoformat()
    assert bodies[1]["ends_at"] is not None


def test_a_channel_type_without_sender_is_reported_never_recorded_as_sent(
    sessions, receiver, monkeypatch
):
    from infersight.alerts import channels
    from infersight.alerts.config import WebhookChannel

    senders = {t: s for t, s in channels.SENDERS.items() if t is not WebhookChannel}
    monkeypatch.setattr(channels, "SENDERS", senders)
    cfg = webhook_config(receiver.url)
    seed(sessions, "latency_p99_ms", [150.0])
    evaluate(sessions, 0, cfg)
    dispatcher = Dispatcher(sessions, cfg, clock=Clock(T0 + 10 * HOUR))
    stats = dispatcher.run_once()
    dispatcher.close()
    assert (stats.sent, stats.retrying) == (0, 1)
    assert receiver.accepted == []
    [row] = rows(sessions)
    assert row.state == "pending" and row.sent_at is None
    assert "type WebhookChannel, which no sender handles" in (row.last_error or "")


def test_a_wrong_secret_fails_the_receivers_signature_check(sessions, receiver, monkeypatch):
    monkeypatch.setenv("ALERT_TEST_SECRET", "a-different-secret")
    cfg = webhook_config(receiver.url, give_up_after="1d")
    seed(sessions, "latency_p99_ms", [150.0])
    evaluate(sessions, 0, cfg)
    stats = Dispatcher(sessions, cfg, clock=Clock(T0 + 2 * HOUR)).run_once()
    assert stats.retrying == 1 and receiver.bad_signatures == 1 and receiver.accepted == []
    assert "HTTP 401" in (rows(sessions)[0].last_error or "")


def test_receiver_down_for_several_attempts_then_up_gets_it_once(sessions, receiver):
    cfg = webhook_config(receiver.url)
    port = receiver.port
    receiver.stop()  # connection refused from now on
    clock = Clock(T0 + 2 * HOUR)
    dispatcher = Dispatcher(sessions, cfg, clock=clock)
    seed(sessions, "latency_p99_ms", [150.0])
    evaluate(sessions, 0, cfg)
    delays = []
    for _ in range(4):
        assert dispatcher.run_once().retrying == 1
        row = rows(sessions)[0]
        delays.append((row.next_attempt_at - clock.now).total_seconds())
        assert dispatcher.run_once().retrying == 0  # not due yet: nothing sent early
        clock.now = row.next_attempt_at
    # exponential with jitter: 1·2^(k-1) ≤ delay ≤ 1·2^(k-1) + 1 (tenacity wait_exponential_jitter)
    for k, delay in enumerate(delays, start=1):
        assert 2 ** (k - 1) <= delay <= 2 ** (k - 1) + 1.0
    back_up = Receiver(secret=SECRET, port=port).start()
    try:
        assert dispatcher.run_once().sent == 1
        assert dispatcher.run_once().sent == 0
        assert len(back_up.accepted) == 1 and back_up.bad_signatures == 0
    finally:
        back_up.stop()
    row = rows(sessions)[0]
    assert (row.state, row.attempts, row.last_error) == ("sent", 5, None)


def test_receiver_answering_503_is_retried_until_it_accepts(sessions, receiver):
    cfg = webhook_config(receiver.url)
    receiver.fail_next = 3
    clock = Clock(T0 + 2 * HOUR)
    dispatcher = Dispatcher(sessions, cfg, clock=clock)
    seed(sessions, "latency_p99_ms", [150.0])
    evaluate(sessions, 0, cfg)
    for _ in range(6):
        dispatcher.run_once()
        clock.advance(120)
    assert len(receiver.requests) == 4 and len(receiver.accepted) == 1
    assert len(set(r["headers"]["idempotency-key"] for r in receiver.requests)) == 1


def test_gives_up_after_the_configured_age_into_dead(sessions, receiver):
    cfg = webhook_config(receiver.url, give_up_after="10m")
    receiver.fail_next = 1000
    clock = Clock(T0 + HOUR)
    dispatcher = Dispatcher(sessions, cfg, clock=clock)
    seed(sessions, "latency_p99_ms", [150.0])
    evaluate(sessions, 0, cfg)
    dead = 0
    for _ in range(30):
        dead += dispatcher.run_once().dead
        clock.advance(60)
    assert dead == 1
    with sessions() as session:
        [row] = list_notifications(session, state="dead")
        assert row.last_error and "HTTP 503" in row.last_error and row.attempts >= 5
    attempts = len(receiver.requests)
    clock.advance(3600)
    dispatcher.run_once()
    assert len(receiver.requests) == attempts  # dead is never retried


def test_killed_between_state_change_and_delivery_delivers_after_restart(
    sessions, receiver, db_url
):
    """A child process commits the firing (state + outbox), starts sending to a receiver that
    hangs, and is SIGKILLed mid-send; a fresh dispatcher delivers it after the lease."""
    seed(sessions, "latency_p99_ms", [150.0])
    receiver.hang.set()
    child = textwrap.dedent(
        f"""
        from datetime import datetime, timedelta, UTC
        from infersight.alerts.config import AlertConfig
        from infersight.alerts.dispatcher import Dispatcher
        from infersight.alerts.judge import judge_window
        from infersight.storage.db import make_engine, session_factory
        from tests.alerts.test_alerts_delivery import webhook_config
        T0 = datetime.fromisoformat({T0.isoformat()!r})
        sessions = session_factory(make_engine({db_url!r}))
        cfg = webhook_config({receiver.url!r})
        with sessions.begin() as session:
            judge_window(session, "fraud", "3", {{}}, T0 + timedelta(hours=1), cfg)
        print("committed", flush=True)
        Dispatcher(sessions, cfg).run_once()
        print("not killed", flush=True)
        """
    )
    env = {**os.environ, "ALERT_TEST_SECRET": SECRET}
    process = subprocess.Popen(
        [sys.executable, "-c", child],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "committed"
        assert receiver.got_request.wait(30)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    receiver.hang.clear()
    [row] = rows(sessions)
    assert row.state == "pending"
    cfg = webhook_config(receiver.url)
    later = Clock(datetime.now(UTC) + timedelta(minutes=5))  # past the dead process's lease
    assert Dispatcher(sessions, cfg, clock=later).run_once().sent == 1
    assert rows(sessions)[0].state == "sent"
    # the hung request may have been received too: receivers dedupe by idempotency key
    assert len(set(receiver.delivered_keys())) == 1


def test_two_dispatchers_never_send_the_same_claimed_notification(sessions, receiver):
    cfg = webhook_config(receiver.url)
    seed(sessions, "latency_p99_ms", [150.0])
    evaluate(sessions, 0, cfg)
    clock = Clock(T0 + 2 * HOUR)
    first, second = Dispatcher(sessions, cfg, clock=clock), Dispatcher(sessions, cfg, clock=clock)
    assert first.run_once().sent + second.run_once().sent == 1
    assert len(receiver.accepted) == 1
