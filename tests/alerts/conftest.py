"""Fixtures for the alert tests: a migrated database per backend, cleared before each test,
and a helper that writes metric points exactly as the worker does
(``infersight.storage.metrics.upsert_metric_points``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from infersight.storage.db import make_engine, session_factory, upgrade
from infersight.storage.metrics import (
    REFERENCE_WINDOW_START,
    MetricPointRecord,
    upsert_metric_points,
)
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from tests.support.postgres import temporary_database

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)
DRIFT_SHARE_FEATURES = 25
ALERT_TABLES = ("alert_notifications", "alert_states", "alert_silences", "alert_rules")


@pytest.fixture(scope="package")
def alerts_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("alerts") / "infersight.db"
    return f"sqlite:///{path}"


@pytest.fixture(scope="package")
def alerts_postgres_url() -> Iterator[str]:
    with temporary_database("infersight_alerts") as url:
        yield url


@pytest.fixture(scope="package", params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a database migrated to head (0002 included), once per backend."""
    fixture = "alerts_sqlite_url" if request.param == "sqlite" else "alerts_postgres_url"
    url: str = request.getfixturevalue(fixture)
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions on a database whose alert tables and metric points are empty."""
    factory = session_factory(engine)
    with factory.begin() as session:
        for table in (*ALERT_TABLES, "metric_points", "model_versions", "models"):
            session.execute(text(f"DELETE FROM {table}"))
    return factory


def seed(
    sessions: sessionmaker[Session],
    metric: str,
    values: Sequence[float | None],
    *,
    model: str = "fraud",
    version: str = "3",
    feature: str | None = None,
    sample_size: int = 1000,
    first: int = 0,
) -> list[datetime]:
    """Write one point per hourly window ``T0 + (first + i) h``; returns the window starts."""
    starts = [T0 + (first + i) * HOUR for i in range(len(values))]
    records = [
        MetricPointRecord(model, version, s, s + HOUR, feature, metric, v, sample_size)
        for s, v in zip(starts, values, strict=True)
    ]
    if metric == "drift_share":
        # As DriftReport.rows() writes it: drift_share's sample size is the number of tested
        # features; the window's rows are in the dataset-level ``count`` point.
        records = [
            *(replace(r, sample_size=DRIFT_SHARE_FEATURES) for r in records),
            *(
                MetricPointRecord(
                    model, version, s, s + HOUR, None, "count", sample_size, sample_size
                )
                for s in starts
            ),
        ]
    if metric.removeprefix("estimated_") in PROPORTION_STDERR:
        # as DriftReport.rows() writes them: each performance metric's standard error beside it
        records += [
            replace(r, metric=f"{metric}_stderr",
                    value=None if r.value is None else (r.value * (1 - r.value) / sample_size) ** 0.5)
            for r in records
        ]
    with sessions.begin() as session:
        upsert_metric_points(session, records)
    return starts


PROPORTION_STDERR = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc"})
"""Metrics seeded with a binomial standard error, √(v(1-v)/n), as their ``*_stderr`` point."""


def seed_reference(
    sessions: sessionmaker[Session],
    metric: str,
    value: float,
    model: str = "fraud",
    version: str = "3",
) -> None:
    """The version's reference value of ``metric`` (the epoch pseudo-window)."""
    with sessions.begin() as session:
        upsert_metric_points(
            session,
            [
                MetricPointRecord(
                    model,
                    version,
                    REFERENCE_WINDOW_START,
                    REFERENCE_WINDOW_START,
                    None,
                    metric,
                    value,
                    5000,
                )
            ],
        )
