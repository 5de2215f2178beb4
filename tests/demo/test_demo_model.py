"""The demo's simulated world does what the demo claims: which inputs drift (two-sample tests
from scipy), how far the model's F1 falls (scikit-learn), and what the SDK receives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from infersight.collector.demo import assistant
from infersight.collector.demo import model as credit
from infersight.collector.demo.simulator import Scenario, SimClock, Simulator
from infersight.sdk import MemoryTransport
from scipy.stats import chi2_contingency, ks_2samp
from sklearn.metrics import f1_score

import infersight

DERIVED = {"installment_to_income"}
"""Computed from loan amount and income, so it moves with them."""


def _shifted(before: np.ndarray, after: np.ndarray) -> bool:
    if before.dtype.kind in "OUS":
        categories = sorted(set(before) | set(after))
        table = [[int(np.sum(before == c)) for c in categories],
                 [int(np.sum(after == c)) for c in categories]]
        return bool(chi2_contingency(table)[1] < 1e-6)
    return bool(ks_2samp(before, after).pvalue < 1e-6)


def test_exactly_the_announced_features_drift() -> None:
    rng = np.random.default_rng(3)
    before = credit.applicants(rng, 20_000, 0.0)
    after = credit.applicants(rng, 20_000, 1.0)
    again = credit.applicants(rng, 20_000, 0.0)
    moved = {name for name in credit.FEATURES if _shifted(before[name], after[name])}
    assert moved == set(credit.DRIFTING_FEATURES) | DERIVED
    assert not any(_shifted(before[name], again[name]) for name in credit.FEATURES)
    assert len(credit.DRIFTING_FEATURES) / len(credit.FEATURES) > 0.3  # above data_drift_share


def test_the_models_f1_drops_well_below_the_reference_after_the_drift() -> None:
    rng = np.random.default_rng(4)
    f1 = {}
    for intensity in (0.0, 1.0):
        x = credit.applicants(rng, 50_000, intensity)
        y = credit.outcomes(rng, x, intensity)
        f1[intensity] = f1_score(y, credit.default_score(x) >= 0.5)
    assert f1[0.0] > 0.75
    assert f1[1.0] < f1[0.0] - 0.15  # far beyond the built-in rule's 0.05


def test_intensity_ramps_from_the_drift_start() -> None:
    scenario = Scenario(drift_after_min=8.0, drift_ramp_min=2.0)
    assert [scenario.intensity(m) for m in (0, 7.99, 8, 9, 10, 60)] == [0, 0, 0, 0.5, 1, 1]


def test_simulator_sends_predictions_and_delayed_labels_through_the_sdk() -> None:
    sent = MemoryTransport()
    infersight.init(transport=sent, flush_interval=0.05)
    try:
        start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        scenario = Scenario(rate_per_minute=300, label_delay_min=2.0, label_fraction=0.5)
        simulator = Simulator(infersight, SimClock(60.0, start, 0.0), scenario)
        for minute in range(1, 7):
            simulator.step(start + timedelta(minutes=minute))
        assert infersight.flush(timeout=10)
    finally:
        infersight.shutdown()
    predictions = [e for e in sent.events if e["type"] == "prediction"
                   and e["model"] == credit.MODEL]
    labels = [e for e in sent.events if e["type"] == "label"]
    assert len(predictions) == 6 * 300 == simulator.stats.predictions
    assert set(predictions[0]["features"]) == set(credit.FEATURES)
    times = {e["prediction_id"]: datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
             for e in predictions}
    assert min(times.values()) >= start and max(times.values()) < start + timedelta(minutes=6)
    # each minute's labels arrive together, two minutes after the minute ends
    assert labels and len(labels) == simulator.stats.labels
    for label in labels:
        arrived = datetime.fromisoformat(label["ts"].replace("Z", "+00:00"))
        predicted = times[label["prediction_id"]]
        minute_end = predicted.replace(second=0, microsecond=0) + timedelta(minutes=1)
        assert arrived == minute_end + timedelta(minutes=2)
    # labels of minutes 0..3 are due by minute 6: about half of their 1200 predictions
    assert len(labels) == pytest.approx(0.5 * 4 * 300, rel=0.15)


def test_the_assistant_sends_tokens_first_token_times_and_its_outage_through_the_sdk() -> None:
    sent = MemoryTransport()
    infersight.init(transport=sent, flush_interval=0.05)
    try:
        start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        scenario = Scenario(rate_per_minute=10, assistant_rate_per_minute=300)
        simulator = Simulator(infersight, SimClock(60.0, start, 0.0), scenario)
        for minute in range(1, 11):
            simulator.step(start + timedelta(minutes=minute))
        assert infersight.flush(timeout=10)
    finally:
        infersight.shutdown()
    calls = [e for e in sent.events if e.get("model") == assistant.MODEL]
    assert len(calls) == 10 * 300 == simulator.stats.assistant_calls
    ok = [e for e in calls if "error" not in e]
    assert all(set(e["usage"]) == {"input_tokens", "output_tokens", "cached_input_tokens"}
               and 0 < e["ttft_ms"] < e["latency_ms"] for e in ok)

    def minute(event: dict) -> float:
        ts = datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))
        return (ts - start).total_seconds() / 60

    outage = scenario.outage
    during = [e for e in calls if outage.covers(minute(e))]
    before = [e for e in calls if minute(e) < outage.start_min]
    failing = [e for e in during if "error" in e]
    assert 0.08 < len(failing) / len(during) < 0.18
    assert {e["error"] for e in failing} == {"TimeoutError", "RateLimitError"}
    assert all(e["prediction"] is None and "usage" not in e for e in failing)
    assert sum("error" in e for e in before) / len(before) < 0.02
