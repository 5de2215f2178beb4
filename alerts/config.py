"""Alert configuration: channels, default channels, disabled built-ins, rules, links.

Rules come from three places, merged by name (later wins): the built-in defaults, the YAML
file (``INFERSIGHT_ALERT_RULES``) and the API (``alert_rules`` table). Redefining a
built-in's name in the file or through the API replaces it (e.g. to tune a threshold);
``disable: [name, ...]`` in the file or ``INFERSIGHT_ALERT_DISABLED_RULES=a,b`` turns one off.
Secrets (webhook HMAC keys, Slack URLs, PagerDuty routing keys, Grafana tokens) are named
by environment variable (``*_env``) and read when sending, never stored.

>>> config = AlertConfig.model_validate({"channels": {"hook": {"type": "webhook",
...     "url": "http://127.0.0.1:9/hook", "secret_env": "HOOK_SECRET"}},
...     "default_channels": ["hook"]})
>>> sorted(rule.name for rule in config.active_rules())[:2]
['concept_drift_suspected', 'data_drift_share']
>>> config.channels["hook"].format
'infersight'
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

from infersight.alerts.builtin import builtin_retraining_rule, builtin_rules
from infersight.alerts.durations import Duration
from infersight.alerts.recommendation import RetrainingRule
from infersight.alerts.rules import AlertRule
from infersight.storage.alert_rules import rule_definitions
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

_URL = r"^https?://\S+$"


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    timeout: Duration = 10.0
    """Per-request timeout (connect + read) for this channel."""


class WebhookChannel(_Channel):
    """Generic JSON webhook, HMAC-signed; ``format: alertmanager`` sends Alertmanager's shape."""

    type: Literal["webhook"]
    url: str = Field(pattern=_URL)
    secret_env: str | None = None
    format: Literal["infersight", "alertmanager"] = "infersight"
    headers: dict[str, str] = Field(default_factory=dict)


class SlackChannel(_Channel):
    """Slack incoming webhook (Block Kit); the URL is a secret, so prefer ``url_env``."""

    type: Literal["slack"]
    url: str | None = Field(default=None, pattern=_URL)
    url_env: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> SlackChannel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        return self


class PagerDutyChannel(_Channel):
    """PagerDuty Events API v2 (``trigger`` / ``resolve`` by ``dedup_key``)."""

    type: Literal["pagerduty"]
    routing_key_env: str
    url: str = Field(default="https://events.pagerduty.com/v2/enqueue", pattern=_URL)


class GrafanaChannel(_Channel):
    """Annotations on the model's Grafana dashboard (through ``grafana-client``)."""

    type: Literal["grafana"]
    url: str = Field(pattern=_URL)
    token_env: str | None = None
    dashboard_uid: str | None = None
    """Default: the links' ``dashboard_uid``."""
    tags: list[str] = Field(default_factory=list)


ChannelConfig = Annotated[
    WebhookChannel | SlackChannel | PagerDutyChannel | GrafanaChannel, Field(discriminator="type")
]


class LinkConfig(BaseModel):
    """Where notifications point: the built-in page and the Grafana dashboard."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    page_url: str | None = None
    grafana_url: str | None = None
    dashboard_uid: str = "infersight-model"


class AlertConfig(BaseModel):
    """Everything the engine and the dispatcher need besides the database."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    default_channels: list[str] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list)
    rules: list[AlertRule] = Field(default_factory=list)
    retraining: list[RetrainingRule] = Field(default_factory=list)
    links: LinkConfig = Field(default_factory=LinkConfig)
    give_up_after: Duration = 86400.0
    backoff_initial: Duration = 5.0
    backoff_max: Duration = 900.0

    @model_validator(mode="after")
    def _channels_exist(self) -> AlertConfig:
        for name in self.default_channels:
            if name not in self.channels:
                raise ValueError(f"default channel {name!r} is not defined under channels")
        names = [r.name for r in self.rules] + [r.name for r in self.retraining]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(duplicates)}")
        for rule in [*self.rules, *self.retraining]:
            for channel in rule.channels:
                if channel not in self.channels:
                    raise ValueError(
                        f"rule {rule.name!r} names channel {channel!r}, which is not defined"
                    )
        return self

    def active_rules(self, api_rules: list[AlertRule] | None = None) -> list[AlertRule]:
        """Threshold rules in effect (built-ins, file, API; later wins; disabled removed).

        Disabled rules still feed the retraining recommendation: see :meth:`all_rules`."""
        return [r for r in self.all_rules(api_rules) if r.enabled and r.name not in self.disable]

    def all_rules(self, api_rules: list[AlertRule] | None = None) -> list[AlertRule]:
        merged: dict[str, AlertRule] = {r.name: r for r in builtin_rules()}
        merged.update({r.name: r for r in self.rules})
        merged.update({r.name: r for r in api_rules or []})
        return list(merged.values())

    def active_retraining_rules(self) -> list[RetrainingRule]:
        merged = {r.name: r for r in [builtin_retraining_rule(), *self.retraining]}
        return [r for r in merged.values() if r.enabled and r.name not in self.disable]

    def channels_for(self, names: list[str]) -> list[str]:
        """The rule's channels, or the default channels; unknown names are kept (the
        dispatcher reports them) so a misconfiguration is visible, not silent."""
        return list(names) if names else list(self.default_channels)


def api_rules(session: Session) -> list[AlertRule]:
    """Rules stored through the API (invalid stored documents are skipped)."""
    rules = []
    for definition in rule_definitions(session):
        try:
            rules.append(AlertRule.model_validate(definition))
        except ValueError:
            continue
    return rules


def secret_from_env(variable: str | None, what: str) -> str | None:
    """The secret in environment variable ``variable`` (None when no variable is named)."""
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise LookupError(f"{what}: environment variable {variable} is not set")
    return value
