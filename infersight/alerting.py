"""Alerting wired from the settings: the ``alert_*`` settings (``INFERSIGHT_ALERT_RULES``,
``INFERSIGHT_ALERT_DISABLED_RULES``, …) become the alert configuration's defaults, the rules
file's path and the dispatcher's interval.

>>> from infersight.settings import Settings
>>> settings_defaults(Settings(alert_disabled_rules="a, b"))["disable"]
['a', 'b']
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from infersight.alerts.config import AlertConfig, LinkConfig
from infersight.alerts.rules_file import AlertConfigSource, load_alert_config
from infersight.alerts.service import Alerting
from infersight.settings import Settings


def settings_defaults(settings: Settings) -> dict[str, Any]:
    """The parts of the alert configuration that come from ``INFERSIGHT_*`` settings."""
    disabled = [n.strip() for n in settings.alert_disabled_rules.split(",") if n.strip()]
    return {
        "disable": disabled,
        "give_up_after": settings.alert_give_up_after,
        "backoff_initial": settings.alert_backoff_initial,
        "backoff_max": settings.alert_backoff_max,
        "links": LinkConfig(
            page_url=settings.alert_page_url or settings.api_url,
            grafana_url=settings.alert_grafana_url or getattr(settings, "grafana_url", None),
            dashboard_uid=settings.alert_dashboard_uid,
        ).model_dump(),
    }


def alert_config(settings: Settings) -> AlertConfig:
    """The configuration from the settings and the rules file they name (read once)."""
    return load_alert_config(settings.alert_rules, settings_defaults(settings))


def alert_config_source(settings: Settings) -> AlertConfigSource:
    """The configuration from the settings, the rules file reloaded when it changes."""
    return AlertConfigSource(settings.alert_rules, settings_defaults(settings))


def alerting_from_settings(settings: Settings, sessions: sessionmaker[Session]) -> Alerting:
    """Judgement and delivery for one process (the worker, the embedded mode)."""
    return Alerting(alert_config_source(settings), sessions, settings.alert_dispatch_interval)
