"""The data-quality rules over real metric points: ``schema_change`` (a feature absent from a
window, judged on the window's row count) and ``out_of_range`` (2 windows above 5 %)."""

from __future__ import annotations

from infersight.alerts.config import AlertConfig
from infersight.alerts.judge import judge_window
from infersight.storage.alert_tables import AlertState
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.conftest import HOUR, T0, seed


def judge(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        judge_window(session, "fraud", "3", {}, T0 + 72 * HOUR, AlertConfig())


def status(sessions: sessionmaker[Session], key: str) -> str | None:
    with sessions() as session:
        found = session.get(AlertState, key)
        return None if found is None else found.status


def test_a_feature_missing_from_a_whole_window_fires_at_once_on_enough_rows(sessions) -> None:
    key = "schema_change/fraud/3/merchant_id"
    # the point's own sample size is the feature's values (0); the window's rows decide
    seed(sessions, "feature_missing", [1.0], feature="merchant_id", sample_size=0)
    seed(sessions, "count", [40.0], sample_size=40)
    judge(sessions)
    assert status(sessions, key) is None  # 40 rows: too few to judge
    seed(sessions, "feature_missing", [1.0], feature="merchant_id", sample_size=0, first=1)
    seed(sessions, "count", [900.0], sample_size=900, first=1)
    judge(sessions)
    assert status(sessions, key) == "firing"
    seed(sessions, "feature_missing", [0.0], feature="merchant_id", sample_size=900, first=2)
    seed(sessions, "count", [900.0], sample_size=900, first=2)
    judge(sessions)
    assert status(sessions, key) == "resolved"


def test_out_of_range_values_fire_after_two_windows(sessions) -> None:
    key = "out_of_range/fraud/3/amount"
    seed(sessions, "out_of_range_rate", [0.2], feature="amount", sample_size=800)
    judge(sessions)
    assert status(sessions, key) == "pending"
    seed(sessions, "out_of_range_rate", [0.07], feature="amount", sample_size=800, first=1)
    judge(sessions)
    assert status(sessions, key) == "firing"
    seed(sessions, "out_of_range_rate", [0.001], feature="amount", sample_size=800, first=2)
    judge(sessions)
    assert status(sessions, key) == "resolved"
