"""Slack incoming webhook: a Block Kit message carrying the whole alert.

Block Kit limits respected here (Slack's documented ones): header text ≤ 150 characters
(plain_text), section text ≤ 3000, at most 10 fields of ≤ 2000 each, ≤ 50 blocks, button
text ≤ 75; ``text`` is the notification fallback.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from infersight.alerts.channels.base import json_bytes, post
from infersight.alerts.config import SlackChannel, secret_from_env

_ICONS = {"firing": ":rotating_light:", "resolved": ":white_check_mark:", "test": ":wave:"}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def slack_body(payload: dict[str, Any]) -> dict[str, Any]:
    """The Block Kit message for a notification payload."""
    status = payload["status"]
    title = f"{status.upper()}: {payload['rule']} on {payload['model']} v{payload['version']}"
    if payload.get("feature"):
        title += f" [{payload['feature']}]"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, 150)}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _clip(f"{_ICONS.get(status, '')} {payload['summary']}", 3000),
            },
        },
    ]
    fields = [
        ("Severity", payload.get("severity")),
        ("Condition", payload.get("condition")),
        ("Value", _number(payload.get("value"))),
        ("Threshold", _number(payload.get("threshold"))),
        ("Reference", _number(payload.get("reference"))),
        ("Rows", _number(payload.get("sample_size"))),
        ("Window", payload.get("window_start")),
        ("Since", payload.get("starts_at")),
    ]
    blocks.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _clip(f"*{name}*\n{value}", 2000)}
                for name, value in fields
                if value not in (None, "", "n/a")
            ][:10],
        }
    )
    evidence = payload.get("evidence") or {}
    if evidence.get("top_features"):
        lines = [
            f"• `{f['feature']}` {f['score_metric']} {_number(f['score'])}"
            + (f" since {f['drifting_since']}" if f.get("drifting_since") else "")
            for f in evidence["top_features"]
        ]
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _clip("*Top drifted features*\n" + "\n".join(lines), 3000),
                },
            }
        )
    if evidence.get("performance"):
        lines = [
            f"• {'estimated ' if p['estimated'] else ''}{p['metric']} {_number(p['value'])} vs "
            f"reference {_number(p['reference'])} (delta {_number(p['delta'])}, n={p['sample_size']})"
            for p in evidence["performance"]
        ]
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _clip("*Performance*\n" + "\n".join(lines), 3000),
                },
            }
        )
    links = payload.get("links") or {}
    if links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": _clip(f"Open {name}", 75)},
                        "url": url,
                    }
                    for name, url in sorted(links.items())
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(
                        f"dedup key `{payload['dedup_key']}` · id `{payload.get('idempotency_key', '')}`",
                        3000,
                    ),
                }
            ],
        }
    )
    return {"text": _clip(f"{status.upper()}: {payload['summary']}", 3000), "blocks": blocks}


def send_slack(
    client: httpx.Client,
    channel_name: str,
    channel: SlackChannel,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    del now
    url = channel.url or secret_from_env(channel.url_env, f"slack channel {channel_name!r}")
    assert url is not None  # the config requires url or url_env
    post(client, url, json_bytes(slack_body(payload)), {}, channel.timeout)
