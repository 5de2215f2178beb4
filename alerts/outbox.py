"""The notification outbox (``alert_notifications``): enqueue, claim, record the outcome.

A notification is written in the same transaction as the alert state change that caused
it, so a crash can never keep one without the other. Its ``idempotency_key`` is derived
from the transition (dedup key, event, episode start) and the channel: enqueueing the same
transition twice is a no-op, and receivers can dedupe deliveries by it.

Retries follow tenacity's exponential backoff with jitter, stored in ``next_attempt_at`` so
a restarted dispatcher continues the schedule; past ``give_up_after`` a failing
notification becomes ``dead`` (kept, visible through the API, never retried).

>>> key = idempotency_key("data_drift_share/fraud/3/", "firing", "2026-01-01T00:00:00+00:00", "oncall")
>>> len(key), key == idempotency_key("data_drift_share/fraud/3/", "resolved",
...                                   "2026-01-01T00:00:00+00:00", "oncall")
(64, False)
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from infersight.storage.alert_tables import AlertNotification
from infersight.storage.outbox import get_notification, insert_notification, lease_due
from sqlalchemy.orm import Session
from tenacity import RetryCallState, wait_exponential_jitter


def idempotency_key(dedup_key: str, event: str, episode: str, channel: str) -> str:
    """A stable hex key for one transition of one alert to one channel."""
    raw = "\x1f".join((dedup_key, event, episode, channel)).encode()
    return hashlib.sha256(raw).hexdigest()


def enqueue(
    session: Session,
    *,
    key: str,
    channel: str,
    event: str,
    dedup_key: str,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """Insert a pending notification unless its key exists; True when inserted."""
    values = {
        "idempotency_key": key,
        "channel": channel,
        "event": event,
        "dedup_key": dedup_key,
        "payload": {**payload, "idempotency_key": key, "channel": channel},
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    return insert_notification(session, values)


def claim_due(
    session: Session, now: datetime, lease_seconds: float, limit: int = 50
) -> list[AlertNotification]:
    """Take up to ``limit`` due notifications and lease them (push ``next_attempt_at`` out)
    so other dispatchers skip them while they are being sent. Commit right after."""
    return lease_due(session, now, now + timedelta(seconds=lease_seconds), limit)


def backoff_seconds(attempt: int, initial: float, maximum: float) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential with jitter (tenacity)."""
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    wait = wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)
    return float(wait(state))


def record_success(session: Session, notification_id: int, now: datetime) -> None:
    row = get_notification(session, notification_id)
    if row is None or row.state != "pending":
        return
    row.state = "sent"
    row.attempts += 1
    row.sent_at = now
    row.last_error = None


def record_failure(
    session: Session,
    notification_id: int,
    error: str,
    now: datetime,
    *,
    initial: float,
    maximum: float,
    give_up_after: float,
) -> str:
    """Schedule the next attempt, or mark the notification dead; returns the new state."""
    row = get_notification(session, notification_id)
    if row is None or row.state != "pending":
        return "gone"
    row.attempts += 1
    row.last_error = error[:2000]
    if now - row.created_at >= timedelta(seconds=give_up_after):
        row.state = "dead"
    else:
        row.next_attempt_at = now + timedelta(
            seconds=backoff_seconds(row.attempts, initial, maximum)
        )
    return str(row.state)

