"""The retraining recommendation over metric points written as the worker writes them:
fires only on drift *and* a performance drop, and its payload carries the evidence."""

from __future__ import annotations

import numpy as np
import pytest
from infersight.alerts.config import AlertConfig
from infersight.alerts.dispatcher import Dispatcher
from infersight.alerts.judge import judge_window
from infersight.alerts.recommendation import wilson_interval
from infersight.storage.alert_tables import AlertNotification
from scipy import stats
from scipy.stats import binomtest
from sqlalchemy import select

from tests.alerts.conftest import HOUR, T0, seed, seed_reference
from tests.alerts.receivers import Receiver


def seed_drifted_traffic(sessions) -> None:
    seed(sessions, "drift_share", [0.5, 0.6])
    seed(sessions, "js_distance", [0.40, 0.45], feature="amount")
    seed(sessions, "psi", [0.9, 1.1], feature="amount")
    seed(sessions, "ks_pvalue", [1e-9, 1e-12], feature="amount")
    seed(sessions, "js_distance", [0.05, 0.30], feature="country")
    seed(sessions, "js_distance", [0.02, 0.01], feature="age")
    seed(sessions, "psi", [0.30, 0.35], feature="@prediction")


def recommendation(sessions, cfg: AlertConfig) -> list[AlertNotification]:
    with sessions.begin() as session:
        judge_window(session, "fraud", "3", {}, T0 + 2 * HOUR, cfg)
    with sessions() as session:
        return list(
            session.scalars(
                select(AlertNotification).where(
                    AlertNotification.dedup_key == "retraining_recommended/fraud/3/"
                )
            )
        )


@pytest.fixture
def cfg() -> AlertConfig:
    return AlertConfig.model_validate(
        {
            "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/x"}},
            "default_channels": ["hook"],
            "links": {"page_url": "http://infersight:8000", "grafana_url": "http://grafana:3000"},
        }
    )


def test_drift_without_a_performance_drop_recommends_nothing(sessions, cfg) -> None:
    seed_drifted_traffic(sessions)
    seed_reference(sessions, "f1", 0.85)
    seed(sessions, "f1", [0.84, 0.84], sample_size=600)
    assert recommendation(sessions, cfg) == []


def test_drift_plus_realised_drop_recommends_retraining_with_evidence(sessions, cfg) -> None:
    seed_drifted_traffic(sessions)
    seed_reference(sessions, "f1", 0.85)
    seed(sessions, "f1", [0.78, 0.70], sample_size=600)
    [note] = recommendation(sessions, cfg)
    payload = note.payload
    assert payload["rule"] == "retraining_recommended" and payload["status"] == "firing"
    evidence = payload["evidence"]

    features = evidence["top_features"]
    assert [f["feature"] for f in features] == ["amount", "country"]  # age: 0.01 < 0.1
    assert features[0]["score"] == 0.45 and features[0]["scores"]["psi"] == 1.1
    assert features[0]["scores"]["ks_pvalue"] == 1e-12
    assert features[0]["drifting_since"] == T0.isoformat()
    assert features[1]["drifting_since"] == (T0 + HOUR).isoformat()

    drift_rules = {d["rule"]: d for d in evidence["drift"]}
    assert drift_rules["data_drift_share"]["value"] == 0.6
    assert drift_rules["data_drift_share"]["consecutive_windows"] == 2
    assert drift_rules["prediction_drift"]["feature"] == "@prediction"

    [performance] = evidence["performance"]
    assert performance["metric"] == "f1" and performance["estimated"] is False
    assert performance["value"] == 0.70 and performance["reference"] == 0.85
    assert performance["delta"] == pytest.approx(-0.15)
    # the rule's test pooled both windows, weighted by their binomial variances
    weights = np.array([600 / (0.78 * 0.22), 600 / (0.70 * 0.30)])
    pooled = float(weights @ [0.78, 0.70] / weights.sum())
    half = stats.norm.ppf(0.975) / np.sqrt(weights.sum())
    assert performance["sample_size"] == 1200 and performance["pooled_windows"] == 2
    assert performance["pooled_value"] == pytest.approx(pooled)
    assert performance["confidence_95"] == pytest.approx([pooled - half, pooled + half])
    assert performance["significant"] is True
    assert evidence["windows"] == [T0.isoformat(), (T0 + HOUR).isoformat()]

    assert "amount" in payload["summary"]
    assert f"{pooled:.3g} over 2 windows vs reference 0.85" in payload["summary"]
    assert payload["links"]["page"] == "http://infersight:8000/?model=fraud&version=3"
    assert payload["links"]["dashboard"].startswith("http://grafana:3000/d/infersight-model?")


def test_estimated_drop_before_labels_is_enough(sessions, cfg) -> None:
    seed_drifted_traffic(sessions)
    seed_reference(sessions, "f1", 0.85)
    seed(sessions, "estimated_f1", [0.74, 0.72])
    [note] = recommendation(sessions, cfg)
    [performance] = note.payload["evidence"]["performance"]
    assert performance["estimated"] is True and performance["reference_metric"] == "f1"
    assert performance["delta"] == pytest.approx(0.72 - 0.85)


def test_recommendation_reaches_a_webhook_with_its_evidence(sessions, monkeypatch) -> None:
    receiver = Receiver().start()
    try:
        cfg = AlertConfig.model_validate(
            {
                "channels": {"hook": {"type": "webhook", "url": receiver.url}},
                "default_channels": ["hook"],
            }
        )
        seed_drifted_traffic(sessions)
        seed_reference(sessions, "f1", 0.85)
        seed(sessions, "f1", [0.78, 0.70], sample_size=600)
        recommendation(sessions, cfg)
        Dispatcher(sessions, cfg, clock=lambda: T0 + 3 * HOUR).run_once()
        bodies = {r["json"]["rule"]: r["json"] for r in receiver.accepted}
        assert set(bodies) == {
            "data_drift_share",
            "prediction_drift",
            "performance_drop",
            "retraining_recommended",
        }
        assert (
            bodies["retraining_recommended"]["evidence"]["top_features"][0]["feature"] == "amount"
        )
    finally:
        receiver.stop()


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (7, 10), (420, 600), (999, 1000)])
def test_wilson_interval_matches_scipy(successes: int, n: int) -> None:
    expected = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(successes / n, n) == pytest.approx((expected.low, expected.high))
