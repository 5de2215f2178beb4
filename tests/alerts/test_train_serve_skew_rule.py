"""``train_serve_skew``: a feature's ``skew_rate`` above 1 % fires on ≥ 100 matched pairs,
one alert per feature, and resolves when the pipelines agree again."""

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


def test_skew_fires_per_feature_on_enough_matched_pairs(sessions) -> None:
    seed(sessions, "skew_rate", [0.5], feature="amount", sample_size=40)
    seed(sessions, "skew_rate", [0.005], feature="country", sample_size=5000)
    judge(sessions)
    assert status(sessions, "train_serve_skew/fraud/3/amount") is None  # 40 pairs: too few
    seed(sessions, "skew_rate", [0.02], feature="amount", sample_size=400, first=1)
    seed(sessions, "skew_rate", [0.005], feature="country", sample_size=5000, first=1)
    judge(sessions)
    assert status(sessions, "train_serve_skew/fraud/3/amount") == "firing"
    assert status(sessions, "train_serve_skew/fraud/3/country") is None  # 0.5 %: below 1 %
    seed(sessions, "skew_rate", [0.0], feature="amount", sample_size=400, first=2)
    judge(sessions)
    assert status(sessions, "train_serve_skew/fraud/3/amount") == "resolved"
