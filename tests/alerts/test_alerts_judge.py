"""The engine over real metric points: for, min samples, cooldown, silences, relative
thresholds, late re-evaluation, and the outbox rows written in the caller's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from infersight.alerts.config import AlertConfig
from infersight.alerts.judge import judge_window
from infersight.alerts.silences import Matcher, SilenceSpec, create_silence
from infersight.storage.alert_tables import AlertNotification, AlertState
from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.conftest import HOUR, T0, seed, seed_reference

HOOK = {"type": "webhook", "url": "http://127.0.0.1:9/hook"}


def config(**extra: object) -> AlertConfig:
    return AlertConfig.model_validate(
        {"channels": {"hook": HOOK}, "default_channels": ["hook"], **extra}
    )


def run(sessions: sessionmaker[Session], window_index: int, cfg: AlertConfig, **kw: object):
    now = T0 + (window_index + 1) * HOUR + timedelta(minutes=1)
    now = kw.get("now", now)  # type: ignore[assignment]
    with sessions.begin() as session:
        return judge_window(session, "fraud", "3", {}, now, cfg)


def notifications(sessions: sessionmaker[Session]) -> list[AlertNotification]:
    with sessions() as session:
        return list(session.scalars(select(AlertNotification).order_by(AlertNotification.id)))


def state(sessions: sessionmaker[Session], key: str) -> AlertState | None:
    with sessions() as session:
        return session.get(AlertState, key)


def test_drift_share_fires_after_for_windows_then_resolves_once(sessions) -> None:
    cfg = config()
    key = "data_drift_share/fraud/3/"
    seed(sessions, "drift_share", [0.5])
    run(sessions, 0, cfg)
    assert state(sessions, key).status == "pending"
    assert notifications(sessions) == []
    seed(sessions, "drift_share", [0.6], first=1)
    run(sessions, 1, cfg)
    run(sessions, 1, cfg)  # evaluated again: no second notification
    assert state(sessions, key).status == "firing"
    sent = notifications(sessions)
    assert [(n.event, n.channel) for n in sent] == [("firing", "hook")]
    assert sent[0].payload["value"] == 0.6 and sent[0].payload["threshold"] == 0.3
    seed(sessions, "drift_share", [0.1], first=2)
    run(sessions, 2, cfg)
    run(sessions, 2, cfg)
    assert state(sessions, key).status == "resolved"
    assert [n.event for n in notifications(sessions)] == ["firing", "resolved"]


def test_windows_below_min_samples_neither_fire_nor_resolve(sessions) -> None:
    cfg = config()
    key = "data_drift_share/fraud/3/"
    seed(sessions, "drift_share", [0.9, 0.9, 0.9], sample_size=12)
    run(sessions, 2, cfg)
    assert state(sessions, key) is None
    seed(sessions, "drift_share", [0.9, 0.9], first=3)
    run(sessions, 4, cfg)
    assert state(sessions, key).status == "firing"
    seed(sessions, "drift_share", [0.0], first=5, sample_size=12)  # provisional: 12 rows
    run(sessions, 5, cfg)
    assert state(sessions, key).status == "firing"


def test_relative_threshold_reads_reference_and_skips_without_one(sessions) -> None:
    cfg = config()
    key = "performance_drop/fraud/3/"
    seed(sessions, "f1", [0.70, 0.70], sample_size=400)
    run(sessions, 1, cfg)
    assert state(sessions, key) is None  # no reference value: undecidable
    seed_reference(sessions, "f1", 0.80)
    run(sessions, 1, cfg)
    assert state(sessions, key).status == "firing"
    assert notifications(sessions)[0].payload["threshold"] == 0.79
    assert notifications(sessions)[0].payload["reference"] == 0.8


def test_late_label_reevaluation_resolves_from_the_stored_points(sessions) -> None:
    cfg = config()
    seed_reference(sessions, "f1", 0.80)
    seed(sessions, "f1", [0.70, 0.70], sample_size=400)
    run(sessions, 1, cfg)
    assert state(sessions, "performance_drop/fraud/3/").status == "firing"
    seed(sessions, "f1", [0.795], sample_size=900, first=1)  # late labels: window upserted
    run(sessions, 1, cfg)
    assert state(sessions, "performance_drop/fraud/3/").status == "resolved"


def test_performance_drop_fires_on_a_significant_sustained_drop_not_on_noise(sessions) -> None:
    """The built-in decides on significance at each window's size, not on a fixed line."""
    cfg = config()
    for model in ("large", "small", "close"):
        seed_reference(sessions, "f1", 0.80, model=model)
        seed_reference(sessions, "f1_stderr", 0.005, model=model)
    # three points down over 2,000 labelled rows a window: z ≈ 2.8 in each, 3.6 over the two
    # pooled (≥ 3.29, the 0.0005 quantile of each of the two horizons): fires at the 2nd
    seed(sessions, "f1", [0.77, 0.77], model="large", sample_size=2000)
    # six points down over 200 rows: within noise (z ≈ 2.7 pooled < 3.29), never fires
    seed(sessions, "f1", [0.74, 0.74], model="small", sample_size=200)
    # half a point down over a million rows: significant, but below the minimum effect
    seed(sessions, "f1", [0.795, 0.795], model="close", sample_size=1_000_000)
    now = T0 + 2 * HOUR + timedelta(minutes=1)
    with sessions.begin() as session:
        for model in ("large", "small", "close"):
            judge_window(session, model, "3", {}, now, cfg)
    assert state(sessions, "performance_drop/large/3/").status == "firing"
    for quiet in ("small", "close"):
        row = state(sessions, f"performance_drop/{quiet}/3/")
        assert row is None or row.status != "firing", quiet
    [note] = [n for n in notifications(sessions) if n.payload["rule"] == "performance_drop"]
    evidence = note.payload["evidence"]
    # two windows pooled: the windows' variance halves, the reference's is counted once
    assert evidence["z"] == pytest.approx(0.03 / (0.77 * 0.23 / 2000 / 2 + 0.005**2) ** 0.5)
    low, high = evidence["interval"]
    assert low < 0.77 < high and evidence["sample_size"] == 4000 and evidence["windows"] == 2
    assert evidence["test"].startswith("one-sided z-test at 0.001 over the latest 2 or 12")
    assert "over the latest 2 window(s) (4000 rows" in note.payload["summary"]
    assert "vs reference 0.8: -0.03" in note.payload["summary"]


def test_a_sustained_drop_of_one_standard_error_a_window_fires_over_the_long_horizon(
    sessions,
) -> None:
    """1.6 points below the reference at 1,000 labelled rows (1.2 standard errors a window):
    no window and no pair of windows shows it; nine windows pooled do (z 3.35 ≥ 3.29)."""
    cfg = config()
    seed_reference(sessions, "f1", 0.80)
    seed_reference(sessions, "f1_stderr", 0.002)
    seed(sessions, "f1", [0.784] * 8)
    run(sessions, 7, cfg)
    row = state(sessions, "performance_drop/fraud/3/")
    assert row is None or row.status != "firing"  # eight windows pooled: z 3.19
    seed(sessions, "f1", [0.784], first=8)
    run(sessions, 8, cfg)
    assert state(sessions, "performance_drop/fraud/3/").status == "firing"
    [note] = [n for n in notifications(sessions) if n.payload["rule"] == "performance_drop"]
    assert note.payload["evidence"]["windows"] == 9
    assert note.payload["evidence"]["sample_size"] == 9000


def test_a_collapse_fires_at_its_first_window(sessions) -> None:
    cfg = config()
    seed_reference(sessions, "f1", 0.80)
    seed_reference(sessions, "f1_stderr", 0.002)
    seed(sessions, "f1", [0.80, 0.80, 0.80], sample_size=5000)
    run(sessions, 2, cfg)
    assert state(sessions, "performance_drop/fraud/3/") is None
    seed(sessions, "f1", [0.60], sample_size=5000, first=3)
    run(sessions, 3, cfg)
    assert state(sessions, "performance_drop/fraud/3/").status == "firing"


def test_a_rule_delay_counts_from_when_the_windows_data_arrived(sessions) -> None:
    """label_coverage_low waits 24 h: a month-old window replayed an hour ago is not judged
    until its labels have had 24 h to arrive; the same window written live long ago is."""
    cfg = config()
    replayed_at = T0 + timedelta(days=30)
    windows = [(T0 + i * HOUR, "replayed", replayed_at) for i in range(2)]
    windows += [(T0 + i * HOUR, "live", T0 + (i + 1) * HOUR) for i in range(2)]
    with sessions.begin() as session:
        upsert_metric_points(session, [
            MetricPointRecord(model, "3", start, start + HOUR, None, "label_coverage", 0.0,
                              1000, evaluated_at=written)
            for start, model, written in windows
        ])
    for model in ("replayed", "live"):
        with sessions.begin() as session:
            judge_window(session, model, "3", {}, replayed_at + HOUR, cfg)
    assert state(sessions, "label_coverage_low/live/3/").status == "firing"
    assert state(sessions, "label_coverage_low/replayed/3/") is None
    with sessions.begin() as session:  # re-evaluated since (labels came in): still first written then
        upsert_metric_points(session, [
            MetricPointRecord("replayed", "3", start, start + HOUR, None, "label_coverage", 0.0,
                              1000, evaluated_at=replayed_at + 2 * HOUR)
            for start, _, _ in windows[:2]
        ])
        judge_window(session, "replayed", "3", {}, replayed_at + 25 * HOUR, cfg)
    assert state(sessions, "label_coverage_low/replayed/3/").status == "firing"


def test_concept_drift_is_suspected_when_labels_fall_short_of_the_models_own_estimate(
    sessions,
) -> None:
    """No reference needed: each window's realised F1 against its label-free estimate."""
    cfg = config()
    # the scores still promise 0.80, the labels show 0.70 (z ≈ 5): P(y|x) moved
    seed(sessions, "estimated_f1", [0.80, 0.80], model="moved", sample_size=3000)
    seed(sessions, "f1", [0.70, 0.70], model="moved", sample_size=600)
    # realised and estimated agree within noise: nothing to suspect
    seed(sessions, "estimated_f1", [0.80, 0.80], model="steady", sample_size=3000)
    seed(sessions, "f1", [0.79, 0.79], model="steady", sample_size=600)
    now = T0 + 2 * HOUR + timedelta(minutes=1)
    with sessions.begin() as session:
        for model in ("moved", "steady"):
            judge_window(session, model, "3", {}, now, cfg)
    assert state(sessions, "concept_drift_suspected/moved/3/").status == "firing"
    steady = state(sessions, "concept_drift_suspected/steady/3/")
    assert steady is None or steady.status != "firing"
    [note] = [n for n in notifications(sessions) if n.payload["rule"] == "concept_drift_suspected"]
    assert note.payload["reference"] == 0.80 and note.payload["threshold"] == pytest.approx(0.78)


def test_cooldown_holds_a_new_firing_in_pending(sessions) -> None:
    cfg = config(
        rules=[
            {
                "name": "slow",
                "metric": "latency_p99_ms",
                "op": ">",
                "threshold": 100,
                "cooldown": "3h",
            }
        ]
    )
    key = "slow/fraud/3/"
    for index, value in enumerate([150, 50, 150]):
        seed(sessions, "latency_p99_ms", [value], first=index)
        run(sessions, index, cfg)
    assert state(sessions, key).status == "pending"
    seed(sessions, "latency_p99_ms", [150], first=3)
    assert [n.event for n in notifications(sessions)] == ["firing", "resolved"]
    run(sessions, 3, cfg, now=T0 + 4 * HOUR + timedelta(minutes=2))  # 3h after the firing
    assert state(sessions, key).status == "firing"
    assert [n.event for n in notifications(sessions)] == ["firing", "resolved", "firing"]


def test_silence_suppresses_firing_and_its_resolve(sessions) -> None:
    cfg = config(rules=[{"name": "slow", "metric": "latency_p99_ms", "op": ">", "threshold": 100}])
    with sessions.begin() as session:
        create_silence(
            session,
            SilenceSpec(
                matchers=[
                    Matcher(name="alertname", value="slow"),
                    Matcher(name="model", value="fr*"),
                ],
                ends_at=T0 + 2 * HOUR,
            ),
            now=T0,
        )
    seed(sessions, "latency_p99_ms", [150])
    run(sessions, 0, cfg)
    assert state(sessions, "slow/fraud/3/").status == "firing"
    seed(sessions, "latency_p99_ms", [50], first=1)
    run(sessions, 1, cfg)
    assert state(sessions, "slow/fraud/3/").status == "resolved"
    assert notifications(sessions) == []


def test_firing_during_silence_is_notified_once_the_silence_ends(sessions) -> None:
    cfg = config(rules=[{"name": "slow", "metric": "latency_p99_ms", "op": ">", "threshold": 100}])
    with sessions.begin() as session:
        create_silence(
            session,
            SilenceSpec(
                matchers=[Matcher(name="severity", value="warning")],
                ends_at=T0 + 90 * timedelta(minutes=1),
            ),
            now=T0,
        )
    seed(sessions, "latency_p99_ms", [150])
    run(sessions, 0, cfg)
    assert notifications(sessions) == []
    seed(sessions, "latency_p99_ms", [150], first=1)
    run(sessions, 1, cfg)
    run(sessions, 1, cfg)
    assert [n.event for n in notifications(sessions)] == ["firing"]


def test_feature_any_keeps_one_state_per_feature(sessions) -> None:
    cfg = config(
        rules=[{"name": "psi_any", "metric": "psi", "feature": "any", "op": ">", "threshold": 0.25}]
    )
    seed(sessions, "psi", [0.4], feature="amount")
    seed(sessions, "psi", [0.1], feature="country")
    seed(sessions, "psi", [0.9], feature=None)  # dataset level: not watched by "any"
    transitions = run(sessions, 0, cfg)
    firing = sorted(t.dedup_key for t in transitions if t.event == "firing")
    assert firing == ["psi_any/fraud/3/amount"]


def test_rolled_back_evaluation_leaves_neither_state_nor_notification(sessions) -> None:
    cfg = config(rules=[{"name": "slow", "metric": "latency_p99_ms", "op": ">", "threshold": 100}])
    seed(sessions, "latency_p99_ms", [150])
    with sessions() as session:
        judge_window(session, "fraud", "3", {}, T0 + 2 * HOUR, cfg)
        session.rollback()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AlertState)) == 0
        assert session.scalar(select(func.count()).select_from(AlertNotification)) == 0


def test_disabled_builtin_does_not_notify(sessions) -> None:
    cfg = config(disable=["data_drift_share"])
    seed(sessions, "drift_share", [0.9, 0.9])
    run(sessions, 1, cfg)
    assert notifications(sessions) == []


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # SQLite has a single writer
def test_concurrent_evaluations_of_one_window_notify_once(sessions, engine) -> None:
    """Two workers evaluating the same window at the same moment (real transactions)."""
    import threading

    assert engine.dialect.name == "postgresql"
    cfg = config(rules=[{"name": "slow", "metric": "latency_p99_ms", "op": ">", "threshold": 100}])
    seed(sessions, "latency_p99_ms", [150])
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def evaluate() -> None:
        try:
            with sessions.begin() as session:
                barrier.wait(5)
                judge_window(session, "fraud", "3", {}, T0 + HOUR, cfg)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert [n.event for n in notifications(sessions)] == ["firing"]
