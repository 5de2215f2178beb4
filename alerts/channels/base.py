"""What every channel shares: the :class:`Channel` protocol, the error type, the HTTP helpers."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx

if TYPE_CHECKING:
    from infersight.alerts.config import LinkConfig


class DeliveryError(Exception):
    """A notification could not be delivered (it will be retried)."""


class Channel(Protocol):
    """Sends one stored notification payload to one configured channel.

    ``channel`` is the channel's configuration model (e.g. ``WebhookChannel``); ``links`` are
    the configured links (Grafana's default dashboard). Raises :class:`DeliveryError` on any
    failure, :class:`LookupError` when a secret's environment variable is unset.
    """

    def __call__(
        self,
        client: httpx.Client,
        channel_name: str,
        channel: Any,
        payload: dict[str, Any],
        now: datetime,
        links: LinkConfig,
    ) -> None: ...


def json_bytes(document: Any) -> bytes:
    """Compact UTF-8 JSON, the exact bytes that are sent (and signed)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    ok: tuple[int, ...] = (),
) -> httpx.Response:
    """POST and raise :class:`DeliveryError` unless the status is 2xx (or listed in ``ok``)."""
    try:
        response = client.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=timeout,
        )
    except httpx.HTTPError as error:
        raise DeliveryError(f"{type(error).__name__} posting to {_safe(url)}: {error}") from error
    if not (200 <= response.status_code < 300 or response.status_code in ok):
        raise DeliveryError(f"HTTP {response.status_code} from {_safe(url)}: {response.text[:300]}")
    return response


def _safe(url: str) -> str:
    """The URL without its path, which may hold a secret (Slack webhook URLs do)."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
