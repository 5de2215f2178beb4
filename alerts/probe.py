"""Test notifications (``infersight alerts test CHANNEL``): one message, sent right away.

The payload has ``status: "test"`` and the same shape as a real notification, so a receiver
can check parsing, signature and routing. PagerDuty gets a ``trigger`` at ``info`` severity
followed by its ``resolve`` so no incident stays open.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from infersight.alerts.channels import DeliveryError, deliver
from infersight.alerts.config import AlertConfig, PagerDutyChannel
from infersight.alerts.payload import SCHEMA


def probe_payload(channel: str, now: datetime) -> dict[str, Any]:
    """A notification payload that says it is a test."""
    summary = f"infersight test notification to channel {channel!r}"
    return {
        "schema": SCHEMA,
        "status": "test",
        "rule": "infersight_test",
        "dedup_key": f"infersight_test/{channel}/{uuid.uuid4().hex[:12]}",
        "model": "infersight-test",
        "version": "0",
        "feature": None,
        "severity": "info",
        "summary": summary,
        "condition": "test",
        "metric": None,
        "value": None,
        "threshold": None,
        "reference": None,
        "sample_size": None,
        "window_start": None,
        "window_end": None,
        "starts_at": now.isoformat(),
        "ends_at": None,
        "windows": [],
        "labels": {"alertname": "infersight_test", "severity": "info"},
        "annotations": {"summary": summary},
        "evidence": None,
        "links": {},
        "idempotency_key": uuid.uuid4().hex,
        "channel": channel,
    }


def send_test_notification(
    config: AlertConfig, channel: str, now: datetime, client: httpx.Client | None = None
) -> None:
    """Send a test notification to ``channel``; raises :class:`DeliveryError` on failure."""
    if channel not in config.channels:
        configured = ", ".join(sorted(config.channels)) or "none"
        raise DeliveryError(f"channel {channel!r} is not configured (configured: {configured})")
    payload = probe_payload(channel, now)
    http = client or httpx.Client()
    try:
        deliver(http, config, channel, payload, now)
        if isinstance(config.channels[channel], PagerDutyChannel):
            resolved = {**payload, "status": "resolved", "ends_at": now.isoformat()}
            deliver(http, config, channel, resolved, now)
    finally:
        if client is None:
            http.close()
