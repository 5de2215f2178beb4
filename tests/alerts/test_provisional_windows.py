"""A still-open window with a tiny sample — the one the page and the dashboards mark
provisional — changes no alert decision: the built-in drift and performance rules judge the
latest closed window with their ``min_samples`` rows, whatever the open window's value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from infersight.alerts.builtin import builtin_rules
from infersight.alerts.config import AlertConfig
from infersight.alerts.evaluation import judge, reference_values
from infersight.alerts.judge import judge_window
from infersight.alerts.rules import AlertRule
from infersight.collector.api.provisional import window_closing
from infersight.storage.alert_tables import AlertState
from infersight.storage.watermarks import advance_watermarks
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.conftest import HOUR, T0, seed, seed_reference

MODEL = "provisional"
OPEN_ROWS = 33
FULL_ROWS = 1000
OPEN = 2
"""Windows 0 and 1 are full and closed; window 2 is open, with ``OPEN_ROWS`` rows."""


def _rule(name: str) -> AlertRule:
    (rule,) = [r for r in builtin_rules() if r.name == name]
    return rule


def _open_last_window(sessions: sessionmaker[Session]) -> None:
    """The model's events reach 10 minutes into window 2: it is open, window 1 closed."""
    with sessions.begin() as session:
        advance_watermarks(session, {MODEL: T0 + OPEN * HOUR + timedelta(minutes=10)})
        closing = window_closing(session, MODEL, 0.1)
    assert closing.provisional(T0 + OPEN * HOUR, T0 + (OPEN + 1) * HOUR)
    assert not closing.provisional(T0 + (OPEN - 1) * HOUR, T0 + OPEN * HOUR)


def _judge(sessions: sessionmaker[Session]) -> dict[str, AlertState]:
    now = T0 + (OPEN + 1) * HOUR
    with sessions.begin() as session:
        judge_window(session, MODEL, "3", {}, now, AlertConfig())
    with sessions() as session:
        return {s.rule: s for s in session.query(AlertState).filter_by(model=MODEL)}


def _latest_judged(sessions: sessionmaker[Session], rule_name: str) -> tuple[object, int]:
    rule = _rule(rule_name)
    with sessions() as session:
        references = reference_values(session, MODEL, "3", {})
        (judgement,) = judge(session, rule, MODEL, "3", T0 + (OPEN + 1) * HOUR, references)
    return judgement.latest.window_start, judgement.latest.sample_size


@pytest.mark.parametrize(("rule", "metric", "feature", "quiet", "wild"), [
    ("data_drift_share", "drift_share", None, 0.1, 1.0),
    ("prediction_drift", "psi", "@prediction", 0.05, 2.76),
])
def test_an_open_window_below_min_samples_does_not_start_a_drift_alert(
    sessions: sessionmaker[Session], rule: str, metric: str, feature: str | None,
    quiet: float, wild: float,
) -> None:
    assert _rule(rule).min_samples == 500 > OPEN_ROWS
    seed(sessions, metric, [quiet, quiet], model=MODEL, feature=feature, sample_size=FULL_ROWS)
    seed(sessions, metric, [wild], model=MODEL, feature=feature, sample_size=OPEN_ROWS,
         first=OPEN)
    _open_last_window(sessions)
    states = _judge(sessions)
    assert rule not in states or states[rule].status == "inactive"
    assert _latest_judged(sessions, rule) == (T0 + (OPEN - 1) * HOUR, FULL_ROWS)


def test_an_open_window_below_min_samples_does_not_resolve_a_drift_alert(
    sessions: sessionmaker[Session],
) -> None:
    seed(sessions, "drift_share", [0.6, 0.6], model=MODEL, sample_size=FULL_ROWS)
    seed(sessions, "drift_share", [0.0], model=MODEL, sample_size=OPEN_ROWS, first=OPEN)
    _open_last_window(sessions)
    assert _judge(sessions)["data_drift_share"].status == "firing"


def test_an_open_window_below_min_samples_does_not_start_a_performance_alert(
    sessions: sessionmaker[Session],
) -> None:
    assert _rule("performance_drop").min_samples == 200 > OPEN_ROWS
    seed_reference(sessions, "f1", 0.80, model=MODEL)
    seed_reference(sessions, "f1_stderr", 0.005, model=MODEL)
    seed(sessions, "f1", [0.80, 0.80], model=MODEL, sample_size=FULL_ROWS)
    seed(sessions, "f1", [0.10], model=MODEL, sample_size=OPEN_ROWS, first=OPEN)
    _open_last_window(sessions)
    states = _judge(sessions)
    assert "performance_drop" not in states or states["performance_drop"].status == "inactive"
    assert _latest_judged(sessions, "performance_drop") == (T0 + (OPEN - 1) * HOUR, FULL_ROWS)


def test_a_performance_alert_fires_from_the_closed_windows_and_the_open_one_changes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    seed_reference(sessions, "f1", 0.80, model=MODEL)
    seed_reference(sessions, "f1_stderr", 0.005, model=MODEL)
    seed(sessions, "f1", [0.60, 0.60], model=MODEL, sample_size=FULL_ROWS)
    seed(sessions, "f1", [0.95], model=MODEL, sample_size=OPEN_ROWS, first=OPEN)
    _open_last_window(sessions)
    assert _judge(sessions)["performance_drop"].status == "firing"
