"""Channel formats checked against the receivers' documented required fields, sent through
the dispatcher to local HTTP servers: Slack, PagerDuty, Alertmanager webhook, Grafana."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from infersight.alerts.config import AlertConfig
from infersight.alerts.dispatcher import Dispatcher
from infersight.alerts.judge import judge_window

from tests.alerts.conftest import HOUR, T0, seed
from tests.alerts.receivers import Receiver
from tests.support.grafana_stub import GrafanaStub

SLOW_RULE = {
    "name": "slow",
    "metric": "latency_p99_ms",
    "op": ">",
    "threshold": 100,
    "severity": "critical",
    "labels": {"team": "risk"},
}

# Slack Block Kit limits (api.slack.com/reference/block-kit/blocks): header text plain_text
# <= 150; section text <= 3000 and <= 10 fields of <= 2000; <= 50 blocks; button text <= 75.
TEXT = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"enum": ["plain_text", "mrkdwn"]},
        "text": {"type": "string", "minLength": 1},
    },
}
SLACK_SCHEMA = {
    "type": "object",
    "required": ["text", "blocks"],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {
                            "type": {"const": "header"},
                            "text": {
                                "type": "object",
                                "required": ["type", "text"],
                                "properties": {
                                    "type": {"const": "plain_text"},
                                    "text": {"type": "string", "maxLength": 150},
                                },
                            },
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type"],
                        "anyOf": [{"required": ["text"]}, {"required": ["fields"]}],
                        "properties": {
                            "type": {"const": "section"},
                            "text": {
                                **TEXT,
                                "properties": {
                                    **TEXT["properties"],
                                    "text": {"type": "string", "minLength": 1, "maxLength": 3000},
                                },
                            },
                            "fields": {
                                "type": "array",
                                "maxItems": 10,
                                "items": {
                                    **TEXT,
                                    "properties": {
                                        **TEXT["properties"],
                                        "text": {"type": "string", "maxLength": 2000},
                                    },
                                },
                            },
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "elements"],
                        "properties": {
                            "type": {"const": "actions"},
                            "elements": {
                                "type": "array",
                                "maxItems": 25,
                                "items": {
                                    "type": "object",
                                    "required": ["type", "text"],
                                    "properties": {
                                        "type": {"const": "button"},
                                        "text": {
                                            "type": "object",
                                            "properties": {
                                                "type": {"const": "plain_text"},
                                                "text": {"type": "string", "maxLength": 75},
                                            },
                                        },
                                        "url": {"type": "string", "maxLength": 3000},
                                    },
                                },
                            },
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "elements"],
                        "properties": {
                            "type": {"const": "context"},
                            "elements": {"type": "array", "maxItems": 10, "items": TEXT},
                        },
                    },
                ]
            },
        },
    },
}

# PagerDuty Events API v2 (developer.pagerduty.com/api-reference/368ae3d938c9e-send-an-event-to-pager-duty)
PAGERDUTY_SCHEMA = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "maxLength": 255},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string", "format": "date-time"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
        "links": {"type": "array", "items": {"type": "object", "required": ["href"]}},
        "images": {"type": "array", "items": {"type": "object", "required": ["src"]}},
    },
    "allOf": [
        {
            "if": {"properties": {"event_action": {"const": "trigger"}}},
            "then": {"required": ["payload"]},
        },
        {
            "if": {"properties": {"event_action": {"enum": ["acknowledge", "resolve"]}}},
            "then": {"required": ["dedup_key"]},
        },
    ],
}

# Alertmanager webhook payload (prometheus.io/docs/alerting/latest/configuration/#webhook_config)
ALERTMANAGER_SCHEMA = {
    "type": "object",
    "required": [
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ],
    "properties": {
        "version": {"const": "4"},
        "status": {"enum": ["firing", "resolved"]},
        "alerts": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": [
                    "status",
                    "labels",
                    "annotations",
                    "startsAt",
                    "endsAt",
                    "generatorURL",
                    "fingerprint",
                ],
                "properties": {
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
    },
}


def fire_and_resolve(sessions, cfg: AlertConfig) -> None:
    dispatcher = Dispatcher(sessions, cfg, clock=lambda: T0 + 5 * HOUR)
    seed(sessions, "latency_p99_ms", [150.0])
    with sessions.begin() as session:
        judge_window(session, "fraud", "3", {}, T0 + HOUR, cfg)
    assert dispatcher.run_once().sent == len(cfg.default_channels)
    seed(sessions, "latency_p99_ms", [50.0], first=1)
    with sessions.begin() as session:
        judge_window(session, "fraud", "3", {}, T0 + 2 * HOUR, cfg)
    assert dispatcher.run_once().sent == len(cfg.default_channels)
    dispatcher.close()


def make_config(channels: dict[str, Any]) -> AlertConfig:
    return AlertConfig.model_validate(
        {
            "channels": channels,
            "default_channels": list(channels),
            "rules": [SLOW_RULE],
            "links": {"page_url": "http://infersight:8000", "grafana_url": "http://grafana:3000"},
        }
    )


def test_slack_message_is_valid_block_kit(sessions, monkeypatch) -> None:
    slack = Receiver(handler=lambda *_: (200, "ok")).start()
    monkeypatch.setenv("SLACK_URL", slack.url)
    try:
        fire_and_resolve(
            sessions, make_config({"slack": {"type": "slack", "url_env": "SLACK_URL"}})
        )
    finally:
        slack.stop()
    assert len(slack.accepted) == 2
    for request in slack.accepted:
        jsonschema.validate(request["json"], SLACK_SCHEMA)
    firing, resolved = (r["json"] for r in slack.accepted)
    assert firing["blocks"][0]["text"]["text"].startswith("FIRING: slow on fraud v3")
    assert resolved["blocks"][0]["text"]["text"].startswith("RESOLVED")
    assert any(b["type"] == "actions" for b in firing["blocks"])


def test_slack_limits_hold_for_long_names() -> None:
    from infersight.alerts.channels.slack import slack_body

    payload = {
        "status": "firing",
        "rule": "r" * 300,
        "model": "m" * 300,
        "version": "1",
        "summary": "s" * 5000,
        "dedup_key": "k" * 4000,
        "condition": "c" * 3000,
        "severity": "info",
        "links": {},
    }
    jsonschema.validate(slack_body(payload), SLACK_SCHEMA)


def test_pagerduty_trigger_and_resolve_carry_the_required_fields(sessions, monkeypatch) -> None:
    pagerduty = Receiver(
        handler=lambda *_: (202, {"status": "success", "message": "Event processed"})
    ).start()
    routing_key = "R0123456789ABCDEF0123456789ABCDE"
    monkeypatch.setenv("PD_KEY", routing_key)
    try:
        fire_and_resolve(
            sessions,
            make_config(
                {"pd": {"type": "pagerduty", "routing_key_env": "PD_KEY", "url": pagerduty.url}}
            ),
        )
    finally:
        pagerduty.stop()
    trigger, resolve = (r["json"] for r in pagerduty.accepted)
    for event in (trigger, resolve):
        jsonschema.validate(event, PAGERDUTY_SCHEMA, format_checker=jsonschema.FormatChecker())
        assert event["routing_key"] == routing_key
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == "slow/fraud/3/"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["custom_details"]["value"] == 150.0
    assert trigger["payload"]["custom_details"]["windows"][0]["sample_size"] == 1000
    assert trigger["links"][0]["href"].startswith("http://")


def test_alertmanager_format_matches_its_webhook_shape_and_is_signed(sessions, monkeypatch) -> None:
    monkeypatch.setenv("AM_SECRET", "am-secret")
    receiver = Receiver(secret="am-secret").start()
    try:
        fire_and_resolve(
            sessions,
            make_config(
                {
                    "am": {
                        "type": "webhook",
                        "url": receiver.url,
                        "format": "alertmanager",
                        "secret_env": "AM_SECRET",
                    }
                }
            ),
        )
    finally:
        receiver.stop()
    assert receiver.bad_signatures == 0
    firing, resolved = (r["json"] for r in receiver.accepted)
    for body in (firing, resolved):
        jsonschema.validate(body, ALERTMANAGER_SCHEMA)
    alert = firing["alerts"][0]
    assert alert["labels"] == {
        "team": "risk",
        "alertname": "slow",
        "model": "fraud",
        "version": "3",
        "severity": "critical",
    }
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert resolved["status"] == "resolved" and resolved["alerts"][0]["endsAt"] != alert["endsAt"]
    assert alert["fingerprint"] == resolved["alerts"][0]["fingerprint"]


def test_grafana_annotation_opens_on_firing_and_becomes_a_region_on_resolve(sessions, monkeypatch):
    stub = GrafanaStub(token="glsa_test").start()
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_test")
    try:
        fire_and_resolve(
            sessions,
            make_config(
                {
                    "grafana": {
                        "type": "grafana",
                        "url": stub.url,
                        "token_env": "GRAFANA_TOKEN",
                        "tags": ["prod"],
                    }
                }
            ),
        )
    finally:
        stub.stop()
    assert stub.calls == [
        ("POST", "/api/annotations"),
        ("GET", "/api/annotations"),
        ("PATCH", "/api/annotations/1"),
    ]
    [annotation] = stub.annotations.values()
    assert annotation["dashboardUID"] == "infersight-model"
    assert {
        "infersight",
        "model:fraud",
        "rule:slow",
        "severity:critical",
        "resolved",
        "prod",
    } <= set(annotation["tags"])
    fired = datetime.fromtimestamp(annotation["time"] / 1000, UTC)
    assert fired == T0 + HOUR  # the episode start
    assert annotation["timeEnd"] > annotation["time"]
    assert "latency_p99_ms" in annotation["text"]


def test_grafana_wrong_token_is_a_retried_failure(sessions, monkeypatch):
    stub = GrafanaStub(token="right").start()
    monkeypatch.setenv("GRAFANA_TOKEN", "wrong")
    try:
        cfg = make_config(
            {
                "grafana": {
                    "type": "grafana",
                    "url": stub.url,
                    "token_env": "GRAFANA_TOKEN",
                }
            }
        )
        seed(sessions, "latency_p99_ms", [150.0])
        with sessions.begin() as session:
            judge_window(session, "fraud", "3", {}, T0 + HOUR, cfg)
        stats = Dispatcher(sessions, cfg, clock=lambda: T0 + 2 * HOUR).run_once()
    finally:
        stub.stop()
    assert stats.retrying == 1 and stub.annotations == {}


@pytest.mark.parametrize(
    "channel",
    [
        {"type": "slack", "url_env": "UNSET_SLACK_URL"},
        {"type": "pagerduty", "routing_key_env": "UNSET_PD_KEY"},
    ],
)
def test_missing_secret_is_reported_not_crashing(sessions, channel, monkeypatch) -> None:
    monkeypatch.delenv(channel.get("url_env") or channel["routing_key_env"], raising=False)
    cfg = make_config({"c": channel})
    seed(sessions, "latency_p99_ms", [150.0])
    with sessions.begin() as session:
        judge_window(session, "fraud", "3", {}, T0 + HOUR, cfg)
    assert Dispatcher(sessions, cfg, clock=lambda: T0 + 2 * HOUR).run_once().retrying == 1
    from infersight.storage.outbox import list_notifications

    with sessions() as session:
        [row] = list_notifications(session)
        assert "is not set" in (row.last_error or "")
