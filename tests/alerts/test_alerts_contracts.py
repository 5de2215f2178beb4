"""Contracts with the other parts: the reference profile's performance feeds relative
thresholds (checked against scikit-learn), the prediction-drift feature name matches the
drift report, and migration 0002 matches the ORM tables and downgrades cleanly."""

from __future__ import annotations

import numpy as np
import pytest
from infersight.alerts.config import AlertConfig
from infersight.alerts.evaluation import reference_values
from infersight.alerts.judge import judge_window
from infersight.alerts.rules import PREDICTION_FEATURE
from infersight.drift import Reference
from infersight.storage.alert_tables import AlertNotification
from infersight.storage.models import Model, ModelVersion
from sklearn.metrics import f1_score
from sqlalchemy import select

from tests.alerts.conftest import HOUR, T0, seed


def test_prediction_feature_is_the_drift_reports_name() -> None:
    from infersight.drift.report import PREDICTION

    assert PREDICTION_FEATURE == PREDICTION


def test_relative_threshold_uses_the_uploaded_reference_performance(sessions) -> None:
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 4000)
    scores = np.clip(labels * 0.35 + rng.uniform(0, 0.65, 4000), 0, 1)
    reference = Reference.from_data({"x": rng.normal(size=4000)}, predictions=scores, labels=labels)
    expected_f1 = f1_score(labels, scores >= 0.5)
    with sessions.begin() as session:
        session.add(Model(name="fraud"))
        session.flush()
        session.add(
            ModelVersion(
                model="fraud",
                version="3",
                reference=reference.to_bytes(),
                reference_source="upload",
            )
        )
    with sessions() as session:
        values = reference_values(session, "fraud", "3", reference.performance)
    assert values[("f1", "")] == pytest.approx(expected_f1)

    cfg = AlertConfig.model_validate(
        {
            "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/x"}},
            "default_channels": ["hook"],
        }
    )
    # within the minimum effect (one point), however many rows: no alert
    seed(sessions, "f1", [expected_f1 - 0.005] * 2, sample_size=50_000)
    with sessions.begin() as session:
        judge_window(session, "fraud", "3", reference.performance, T0 + 2 * HOUR, cfg)
    seed(sessions, "f1", [expected_f1 - 0.06] * 2, sample_size=500, first=2)
    with sessions.begin() as session:
        judge_window(session, "fraud", "3", reference.performance, T0 + 4 * HOUR, cfg)
    with sessions() as session:
        [note] = session.scalars(select(AlertNotification)).all()
    assert note.dedup_key == "performance_drop/fraud/3/"
    assert note.payload["reference"] == pytest.approx(expected_f1)
    assert note.payload["threshold"] == pytest.approx(expected_f1 - 0.01)
    assert note.payload["evidence"]["z"] > 2.33  # significant at the window's sample size


def test_without_reference_performance_relative_rules_stay_undecided(sessions) -> None:
    """The worker hands in ``{}`` when the version has no (readable) reference."""
    seed(sessions, "f1", [0.1], sample_size=500)
    with sessions.begin() as session:
        transitions = judge_window(session, "fraud", "3", {}, T0 + HOUR, AlertConfig())
    assert [t for t in transitions if t.event] == []


def test_migration_matches_the_alert_tables_and_downgrades(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from infersight.migrations.metadata import target_metadata
    from infersight.storage.db import downgrade, make_engine, upgrade

    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, target_metadata())
        assert [d for d in diff if "alert" in repr(d)] == []
        downgrade(db_url, "0001")
        with engine.connect() as connection:
            tables = set(engine.dialect.get_table_names(connection))
        assert not {t for t in tables if t.startswith("alert_")}
        assert "metric_points" in tables
    finally:
        upgrade(db_url)
        engine.dispose()
