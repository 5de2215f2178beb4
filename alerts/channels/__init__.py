"""Delivery channels: webhook (infersight or Alertmanager format), Slack, PagerDuty, Grafana.

:func:`deliver` sends one stored notification payload to one configured channel through the
sender :data:`SENDERS` maps its configuration type to, and raises :class:`DeliveryError` on
any failure (the dispatcher retries it). A new channel is a sender module here, its
configuration model in ``alerts/config.py`` and one entry in :data:`SENDERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from infersight.alerts.channels.base import Channel, DeliveryError
from infersight.alerts.channels.grafana import send_grafana
from infersight.alerts.channels.pagerduty import send_pagerduty
from infersight.alerts.channels.slack import send_slack
from infersight.alerts.channels.webhook import send_webhook
from infersight.alerts.config import (
    AlertConfig,
    GrafanaChannel,
    LinkConfig,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)

__all__ = ["SENDERS", "Channel", "DeliveryError", "UnknownChannelType", "deliver"]


class UnknownChannelType(DeliveryError):
    """A configured channel whose type no sender handles (a programming error: it is
    reported on the notification and retried, never recorded as sent)."""


def _webhook(client: httpx.Client, name: str, channel: WebhookChannel, payload: dict[str, Any],
             now: datetime, links: LinkConfig) -> None:
    send_webhook(client, name, channel, payload, now)


def _slack(client: httpx.Client, name: str, channel: SlackChannel, payload: dict[str, Any],
           now: datetime, links: LinkConfig) -> None:
    send_slack(client, name, channel, payload, now)


def _pagerduty(client: httpx.Client, name: str, channel: PagerDutyChannel,
               payload: dict[str, Any], now: datetime, links: LinkConfig) -> None:
    send_pagerduty(client, name, channel, payload, now)


def _grafana(client: httpx.Client, name: str, channel: GrafanaChannel, payload: dict[str, Any],
             now: datetime, links: LinkConfig) -> None:
    send_grafana(name, channel, payload, now, links.dashboard_uid)


SENDERS: Mapping[type[Any], Channel] = {
    WebhookChannel: _webhook,
    SlackChannel: _slack,
    PagerDutyChannel: _pagerduty,
    GrafanaChannel: _grafana,
}
"""The sender of each channel configuration type."""


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
    sender = SENDERS.get(type(channel))
    if sender is None:
        known = ", ".join(sorted(t.__name__ for t in SENDERS))
        raise UnknownChannelType(
            f"channel {channel_name!r} has type {type(channel).__name__}, which no sender "
            f"handles (senders: {known})"
        )
    try:
        sender(client, channel_name, channel, payload, now, config.links)
    except LookupError as error:  # a secret's environment variable is unset
        raise DeliveryError(str(error)) from error
