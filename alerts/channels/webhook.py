"""Generic JSON webhook: infersight's own payload or Alertmanager's webhook shape, signed.

Headers: ``X-Infersight-Signature: sha256=<hex HMAC-SHA256 of the body>`` (per-channel
secret), ``X-Infersight-Timestamp`` (Unix seconds, also in the signed body as
``timestamp``: receivers reject old or mismatching values to prevent replay),
``Idempotency-Key`` (same on every retry of one notification; receivers dedupe by it).

>>> signature("s3cret", b'{"a":1}')
'sha256=5910e62016ef5034272c926c27071992a465c2335cecf41851bda071577f4f6d'
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

import httpx
from infersight.alerts.channels.base import json_bytes, post
from infersight.alerts.config import WebhookChannel, secret_from_env

SIGNATURE_HEADER = "X-Infersight-Signature"
TIMESTAMP_HEADER = "X-Infersight-Timestamp"
ALERTMANAGER_ZERO_TIME = "0001-01-01T00:00:00Z"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def alertmanager_body(payload: dict[str, Any], receiver: str) -> dict[str, Any]:
    """The payload in Alertmanager's webhook format (version 4), one alert per message."""
    labels = {k: v for k, v in payload["labels"].items() if v != ""}
    annotations = {k: str(v) for k, v in payload["annotations"].items()}
    links = payload.get("links") or {}
    fingerprint = hashlib.sha256(payload["dedup_key"].encode()).hexdigest()[:16]
    status = "resolved" if payload["status"] == "resolved" else "firing"  # "test" included
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": payload["starts_at"],
        "endsAt": payload["ends_at"] or ALERTMANAGER_ZERO_TIME,
        "generatorURL": links.get("page", ""),
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{labels.get("alertname", "")}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": labels.get("alertname", "")},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": links.get("page", ""),
        "alerts": [alert],
    }


def send_webhook(
    client: httpx.Client,
    channel_name: str,
    channel: WebhookChannel,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    timestamp = int(now.timestamp())
    if channel.format == "alertmanager":
        document: dict[str, Any] = alertmanager_body(payload, channel_name)
    else:
        document = {**payload, "timestamp": timestamp, "sent_at": now.isoformat()}
    body = json_bytes(document)
    headers = {
        **channel.headers,
        TIMESTAMP_HEADER: str(timestamp),
        "Idempotency-Key": str(payload.get("idempotency_key", "")),
        "User-Agent": "infersight-alerts",
    }
    secret = secret_from_env(channel.secret_env, f"webhook channel {channel_name!r}")
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    post(client, channel.url, body, headers, channel.timeout)
