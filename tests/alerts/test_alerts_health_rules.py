"""The inference-health rules over real metric points: ``error_rate_high`` (built in, no
reference needed) and the opt-in daily ``cost_budget`` (a ``total: day`` rule summed over all
of a model's versions, one alert per model)."""

from __future__ import annotations

import math

import pytest
from infersight.alerts.config import AlertConfig
from infersight.alerts.judge import judge_window
from infersight.alerts.rules import AlertRule
from infersight.storage.alert_tables import AlertNotification, AlertState
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.conftest import HOUR, T0, seed

HOOK = {"type": "webhook", "url": "http://127.0.0.1:9/hook"}


def config(**extra: object) -> AlertConfig:
    return AlertConfig.model_validate(
        {"channels": {"hook": HOOK}, "default_channels": ["hook"], **extra})


def judge(sessions: sessionmaker[Session], cfg: AlertConfig, version: str = "3",
          model: str = "fraud") -> None:
    with sessions.begin() as session:
        judge_window(session, model, version, {}, T0 + 72 * HOUR, cfg)


def status(sessions: sessionmaker[Session], key: str) -> str | None:
    with sessions() as session:
        found = session.get(AlertState, key)
        return None if found is None else found.status


def payloads(sessions: sessionmaker[Session], rule: str) -> list[dict]:
    with sessions() as session:
        rows = session.scalars(select(AlertNotification).order_by(AlertNotification.id))
        return [{**n.payload, "event": n.event} for n in rows if n.payload["rule"] == rule]


def test_error_rate_high_fires_on_the_third_window_above_2_percent_without_a_reference(
        sessions) -> None:
    cfg, key = config(), "error_rate_high/fraud/3/"
    seed(sessions, "error_rate", [0.03, 0.05], sample_size=400)
    judge(sessions, cfg)
    assert status(sessions, key) == "pending"
    seed(sessions, "error_rate", [0.20], first=2, sample_size=150)  # too few calls: ignored
    judge(sessions, cfg)
    assert status(sessions, key) == "pending"
    seed(sessions, "error_rate", [0.021], first=3, sample_size=200)
    judge(sessions, cfg)
    assert status(sessions, key) == "firing"
    [fired] = payloads(sessions, "error_rate_high")
    assert fired["value"] == 0.021 and fired["threshold"] == 0.02
    seed(sessions, "error_rate", [0.02], first=4, sample_size=900)  # not above 2 %
    judge(sessions, cfg)
    assert status(sessions, key) == "resolved"


def test_cost_budget_is_opt_in(sessions) -> None:
    seed(sessions, "cost", [1e6])
    judge(sessions, config())
    assert status(sessions, "cost_budget/fraud//") is None
    assert payloads(sessions, "cost_budget") == []


def budget(threshold: float, **extra: object) -> AlertConfig:
    return config(rules=[{"name": "cost_budget", "model": "fraud", "metric": "cost",
                          "total": "day", "op": ">", "threshold": threshold, **extra}])


def test_cost_budget_sums_the_utc_day_over_every_version_and_resolves_the_next_day(
        sessions) -> None:
    # Hourly windows: version 3 costs 4.10 per hour, version 4 (a canary) 0.35 per hour.
    cfg, key = budget(100.0), "cost_budget/fraud//"
    seed(sessions, "cost", [4.10] * 20, sample_size=50)
    seed(sessions, "cost", [0.35] * 20, version="4", sample_size=5)
    judge(sessions, cfg)
    assert status(sessions, key) in (None, "inactive")  # 89.00 so far: within the budget
    seed(sessions, "cost", [4.10] * 3, first=20, sample_size=50)  # 23:00 crosses 100
    judge(sessions, cfg, version="3")
    judge(sessions, cfg, version="4")  # judged from the other version too: the same alert
    assert status(sessions, key) == "firing"
    [fired] = payloads(sessions, "cost_budget")
    assert fired["value"] == pytest.approx(math.fsum([4.10] * 23 + [0.35] * 20), abs=1e-9)
    assert fired["sample_size"] == 23 * 50 + 20 * 5
    assert fired["window_start"] == T0.isoformat()
    assert "all versions" in fired["summary"] and "2026-03-02" in fired["summary"]
    seed(sessions, "cost", [4.10], first=24, sample_size=50)  # the next UTC day starts at 4.10
    judge(sessions, cfg)
    assert status(sessions, key) == "resolved"
    assert [p["event"] for p in payloads(sessions, "cost_budget")] == ["firing", "resolved"]


def test_cost_budget_for_two_days_needs_two_days_over_budget(sessions) -> None:
    cfg, key = budget(10.0, **{"for": 2}), "cost_budget/fraud//"
    seed(sessions, "cost", [6.0, 6.0], sample_size=10)  # day 1: 12 > 10
    judge(sessions, cfg)
    assert status(sessions, key) == "pending"
    seed(sessions, "cost", [11.0], first=24 + 5, sample_size=10)  # day 2: 11 > 10
    judge(sessions, cfg)
    assert status(sessions, key) == "firing"


@pytest.mark.parametrize("extra", [
    {"significance": 0.01, "threshold": "reference * 1.1"},
    {"feature": "prompt"},
    {"threshold": "reference + 1"},
])
def test_a_daily_total_rule_refuses_what_a_sum_cannot_mean(extra: dict) -> None:
    spec = {"name": "b", "metric": "cost", "total": "day", "op": ">", "threshold": 5, **extra}
    with pytest.raises(ValidationError, match="total: day"):
        AlertRule.model_validate(spec)


def test_a_daily_total_rule_describes_itself() -> None:
    rule = AlertRule.model_validate(
        {"name": "b", "metric": "cost", "total": "day", "op": ">", "threshold": 250})
    assert rule.describe() == "daily total of cost (UTC, all versions) > 250"
