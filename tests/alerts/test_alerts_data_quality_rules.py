"""The data-quality rules over real metric points: ``schema_change`` (a feature absent from a
window, or a name the reference never had, judged on the window's row count),
``out_of_range`` (2 windows above 5 %) and ``missing_rate_increase`` (a two-proportion test
over the points ``compare`` writes)."""

from __future__ import annotations

import numpy as np
from infersight.alerts.config import AlertConfig
from infersight.alerts.judge import judge_window
from infersight.drift import Reference, compare
from infersight.storage.alert_tables import AlertState
from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
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
    seed(sessions, "schema_change", [1.0], feature="merchant_id", sample_size=0)
    seed(sessions, "count", [40.0], sample_size=40)
    judge(sessions)
    assert status(sessions, key) is None  # 40 rows: too few to judge
    seed(sessions, "schema_change", [1.0], feature="merchant_id", sample_size=0, first=1)
    seed(sessions, "count", [900.0], sample_size=900, first=1)
    judge(sessions)
    assert status(sessions, key) == "firing"
    seed(sessions, "schema_change", [0.0], feature="merchant_id", sample_size=900, first=2)
    seed(sessions, "count", [900.0], sample_size=900, first=2)
    judge(sessions)
    assert status(sessions, key) == "resolved"


def write_report(sessions: sessionmaker[Session], report, hour: int) -> None:
    """The report's rows as the worker writes them, for the window ``T0 + hour``."""
    start = T0 + hour * HOUR
    records = [MetricPointRecord("fraud", "3", start, start + HOUR, feature, metric, value, n)
               for feature, metric, value, n in report.rows()]
    with sessions.begin() as session:
        upsert_metric_points(session, records)


def test_a_new_feature_fires_its_own_alert_and_resolves_when_it_stops_arriving(
        sessions) -> None:
    rng = np.random.default_rng(5)
    ref = Reference.from_data({"amount": rng.normal(size=2000)})

    def window(extra: dict[str, object]) -> object:
        state = ref.new_window()
        state.update([{"features": {"amount": float(v), **extra}} for v in rng.normal(size=300)])
        return compare(ref, state)

    write_report(sessions, window({}), 0)
    write_report(sessions, window({"device": "ios", "zip_code": "75001"}), 1)
    judge(sessions)
    assert status(sessions, "schema_change/fraud/3/device") == "firing"
    assert status(sessions, "schema_change/fraud/3/zip_code") == "firing"
    assert status(sessions, "schema_change/fraud/3/amount") is None  # present: never breached
    write_report(sessions, window({"zip_code": "75001"}), 2)  # device no longer sent
    judge(sessions)
    assert status(sessions, "schema_change/fraud/3/device") == "resolved"
    assert status(sessions, "schema_change/fraud/3/zip_code") == "firing"


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


def test_missing_rate_increase_fires_on_a_jump_to_ten_percent_not_on_one_percent(
        sessions) -> None:
    rng = np.random.default_rng(8)

    def column(n: int, rate: float) -> list[float | None]:
        return [None if missing else float(v)
                for v, missing in zip(rng.normal(size=n), rng.uniform(size=n) < rate,
                                      strict=True)]

    ref = Reference.from_data({"income": column(20_000, 0.01)})
    key = "missing_rate_increase/fraud/3/income"
    for hour in range(3):
        state = ref.new_window()
        state.update({"income": column(500, 0.01)})
        write_report(sessions, compare(ref, state), hour)
        judge(sessions)
        assert status(sessions, key) is None
    state = ref.new_window()
    state.update({"income": column(500, 0.10)})
    write_report(sessions, compare(ref, state), 3)
    judge(sessions)
    assert status(sessions, key) == "firing"
    with sessions() as session:
        found = session.get(AlertState, key)
        assert found is not None and found.value is not None and found.value > 0.06
