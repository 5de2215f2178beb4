"""Grafana annotations on the model's dashboard, through ``grafana-client``.

Firing adds an annotation at the episode start (``POST /api/annotations`` with the
dashboard UID, tags and text); resolving finds it by its episode tag
(``GET /api/annotations?dashboardUID=…&tags=…``) and turns it into a region ending now
(``PATCH /api/annotations/{id}``), or adds a resolve annotation if it is gone. Tags:
``infersight``, ``model:<name>``, ``version:<v>``, ``rule:<name>``, ``severity:<s>``, the
status, ``episode:<hash>`` and the channel's own tags.

``grafana-client`` is the ``infersight[grafana]`` extra, loaded on the first delivery (see
:mod:`infersight.extras`): without it this channel fails each delivery with a
:class:`DeliveryError` saying what to install, and every other channel works.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from infersight.alerts.channels.base import DeliveryError
from infersight.alerts.config import GrafanaChannel, secret_from_env

from infersight.extras import MissingExtraError, grafana_client


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def episode_tag(payload: dict[str, Any]) -> str:
    """A tag naming one firing episode of one dedup key (safe in a query string)."""
    raw = f"{payload['dedup_key']}|{payload['starts_at']}".encode()
    return "episode:" + hashlib.sha256(raw).hexdigest()[:16]


def annotation_tags(payload: dict[str, Any], channel: GrafanaChannel) -> list[str]:
    tags = [
        "infersight",
        f"model:{payload['model']}",
        f"version:{payload['version']}",
        f"rule:{payload['rule']}",
        f"severity:{payload['severity']}",
        payload["status"],
        episode_tag(payload),
    ]
    if payload.get("feature"):
        tags.append(f"feature:{payload['feature']}")
    return tags + list(channel.tags)


def annotation_text(payload: dict[str, Any]) -> str:
    links = payload.get("links") or {}
    parts = [payload["summary"]] + [f'<a href="{url}">{name}</a>' for name, url in links.items()]
    return "\n".join(parts)


def send_grafana(
    channel_name: str,
    channel: GrafanaChannel,
    payload: dict[str, Any],
    now: datetime,
    default_dashboard_uid: str,
) -> None:
    try:
        library = grafana_client("the Grafana alert channel")
    except MissingExtraError as error:
        raise DeliveryError(f"grafana channel {channel_name!r}: {error}") from error
    token = secret_from_env(channel.token_env, f"grafana channel {channel_name!r}")
    api = library.api.GrafanaApi.from_url(channel.url, credential=token, timeout=channel.timeout)
    dashboard_uid = channel.dashboard_uid or default_dashboard_uid
    tags = annotation_tags(payload, channel)
    text = annotation_text(payload)
    try:
        if payload["status"] == "resolved":
            found = api.annotations.find_annotations(
                dashboard_uid=dashboard_uid, tags=[episode_tag(payload)], limit=1
            )
            if found:
                api.annotations.partial_update_annotation(
                    found[0]["id"],
                    time_from=_ms(payload["starts_at"]),
                    time_to=int(now.timestamp() * 1000),
                    tags=tags,
                    text=text,
                )
                return
        start = payload["starts_at"] if payload["status"] != "resolved" else payload["ends_at"]
        api.annotations.add_annotation(
            dashboard_uid=dashboard_uid,
            time_from=_ms(start or now.isoformat()),
            tags=tags,
            text=text,
        )
    except library.client.GrafanaException as error:
        raise DeliveryError(f"Grafana {channel.url}: {error}") from error
    except Exception as error:  # niquests connection errors and the like
        raise DeliveryError(f"Grafana {channel.url}: {type(error).__name__}: {error}") from error
