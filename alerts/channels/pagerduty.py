"""PagerDuty Events API v2: ``trigger`` on firing, ``resolve`` on resolve, by ``dedup_key``.

Required fields (PagerDuty's documentation): ``routing_key``, ``event_action``; for a
trigger also ``payload.summary`` (≤ 1024 characters), ``payload.source`` and
``payload.severity`` (``critical``, ``error``, ``warning`` or ``info``); ``dedup_key`` is
at most 255 characters. A successful enqueue answers 202.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import httpx
from infersight.alerts.channels.base import json_bytes, post
from infersight.alerts.config import PagerDutyChannel, secret_from_env

SEVERITIES = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}


def pagerduty_dedup_key(dedup_key: str) -> str:
    """Our dedup key, hashed when longer than PagerDuty's 255-character limit."""
    if len(dedup_key) <= 255:
        return dedup_key
    return "infersight:" + hashlib.sha256(dedup_key.encode()).hexdigest()


def pagerduty_body(payload: dict[str, Any], routing_key: str) -> dict[str, Any]:
    dedup = pagerduty_dedup_key(payload["dedup_key"])
    if payload["status"] == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup}
    links = payload.get("links") or {}
    details = {
        key: payload.get(key)
        for key in (
            "condition",
            "metric",
            "feature",
            "value",
            "threshold",
            "reference",
            "sample_size",
            "window_start",
            "window_end",
            "windows",
            "evidence",
            "labels",
            "idempotency_key",
        )
        if payload.get(key) not in (None, [], {})
    }
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": {
            "summary": payload["summary"][:1024],
            "source": f"infersight/{payload['model']}/{payload['version']}",
            "severity": SEVERITIES.get(payload.get("severity", ""), "warning"),
            "timestamp": payload["starts_at"],
            "component": payload["model"],
            "group": f"version {payload['version']}",
            "class": payload["rule"],
            "custom_details": details,
        },
        "client": "infersight",
        "links": [
            {"href": url, "text": f"infersight {name}"} for name, url in sorted(links.items())
        ],
    }
    if "page" in links:
        body["client_url"] = links["page"]
    return body


def send_pagerduty(
    client: httpx.Client,
    channel_name: str,
    channel: PagerDutyChannel,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    del now
    key = secret_from_env(channel.routing_key_env, f"pagerduty channel {channel_name!r}")
    assert key is not None
    post(client, channel.url, json_bytes(pagerduty_body(payload, key)), {}, channel.timeout)
