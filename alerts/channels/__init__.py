"""Delivery channels: webhook (infersight or Alertmanager format), Slack, PagerDuty, Grafana.

:func:`deliver` sends one stored notification payload to one configured channel and raises
:class:`DeliveryError` on any failure (the dispatcher retries it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from infersight.alerts.channels.base import DeliveryError
from infersight.alerts.channels.grafana import send_grafana
from infersight.alerts.channels.pagerduty import send_pagerduty
from infersight.alerts.channels.slack import send_slack
from infersight.alerts.channels.webhook import send_webhook
from infersight.alerts.config import (
    AlertConfig,
    GrafanaChannel,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)

__all__ = ["DeliveryError", "deliver"]


def deliver(
    client: httpx.Client,
    config: AlertConfig,
    channel_name: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Send ``payload`` to the channel named ``channel_name``."""
    channel = config.channels.get(channel_name)
    if channel is None:
        raise DeliveryError(f"channel {channel_name!r} is not configured")
    try:
        if isinstance(channel, WebhookChannel):
            send_webhook(client, channel_name, channel, payload, now)
        elif isinstance(channel, SlackChannel):
            send_slack(client, channel_name, channel, payload, now)
        elif isinstance(channel, PagerDutyChannel):
            send_pagerduty(client, channel_name, channel, payload, now)
        elif isinstance(channel, GrafanaChannel):
            send_grafana(channel_name, channel, payload, now, config.links.dashboard_uid)
    except LookupError as error:  # a secret's environment variable is unset
        raise DeliveryError(str(error)) from error
