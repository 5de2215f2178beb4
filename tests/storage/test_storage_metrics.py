"""Metric points: re-evaluation overwrites, dataset level is '' in the table and None outside."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from infersight.storage.metrics import (
    MetricPointRecord,
    dataset_value,
    latest_dataset_window,
    metric_names,
    query_metric_points,
    upsert_metric_points,
    window_span,
)
from infersight.storage.models import MetricPoint
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

MINUTE = timedelta(minutes=1)
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _point(
    model: str,
    minute: int,
    feature: str | None,
    metric: str,
    value: float | None,
    version: str = "1",
    sample_size: int = 100,
) -> MetricPointRecord:
    start = T0 + minute * MINUTE
    return MetricPointRecord(
        model, version, start, start + MINUTE, feature, metric, value, sample_size
    )


def test_re_evaluation_overwrites_the_point_instead_of_duplicating_it(
    session: Session, unique_name: str
) -> None:
    upsert_metric_points(session, [_point(unique_name, 0, "age", "psi", 0.05, sample_size=10)])
    upsert_metric_points(session, [_point(unique_name, 0, None, "drift_share", 0.0)])
    session.commit()
    upsert_metric_points(session, [_point(unique_name, 0, "age", "psi", 0.31, sample_size=250)])
    upsert_metric_points(session, [_point(unique_name, 0, None, "drift_share", 0.5)])
    session.commit()

    points = query_metric_points(session, unique_name)
    assert [(p.feature, p.metric, p.value, p.sample_size) for p in points] == [
        (None, "drift_share", 0.5, 100),
        ("age", "psi", 0.31, 250),
    ]
    count = select(func.count()).select_from(MetricPoint).where(MetricPoint.model == unique_name)
    assert session.execute(count).scalar_one() == 2
    stored_features = session.execute(
        text("SELECT feature FROM metric_points WHERE model = :m ORDER BY feature"),
        {"m": unique_name},
    ).scalars()
    assert list(stored_features) == ["", "age"]


def test_the_schema_itself_forbids_duplicate_points(session: Session, unique_name: str) -> None:
    row = {
        "model": unique_name,
        "version": "1",
        "window_start": T0,
        "window_end": T0 + MINUTE,
        "feature": "",
        "metric": "count",
        "value": 1.0,
        "sample_size": 1,
    }
    session.execute(insert(MetricPoint), [row])
    with pytest.raises(IntegrityError):
        session.execute(insert(MetricPoint), [row])
    session.rollback()


def test_undefined_values_are_stored_as_null(session: Session, unique_name: str) -> None:
    upsert_metric_points(
        session,
        [
            _point(unique_name, 0, None, "roc_auc", math.nan),
            _point(unique_name, 0, None, "kl_divergence", math.inf),
            _point(unique_name, 0, None, "accuracy", 0.75),
        ],
    )
    session.commit()
    values = {p.metric: p.value for p in query_metric_points(session, unique_name)}
    assert values == {"roc_auc": None, "kl_divergence": None, "accuracy": 0.75}


def test_query_filters_by_version_metric_feature_and_half_open_range(
    session: Session, unique_name: str
) -> None:
    points = [
        _point(unique_name, minute, feature, metric, minute / 10, version)
        for minute in range(10)
        for feature in (None, "age", "city")
        for metric in ("psi", "count")
        for version in ("1", "2")
    ]
    assert upsert_metric_points(session, points) == 120
    session.commit()

    psi_age = query_metric_points(
        session,
        unique_name,
        version="2",
        metric="psi",
        feature="age",
        start=T0 + 2 * MINUTE,
        end=T0 + 5 * MINUTE,
    )
    assert [(p.window_start, p.value) for p in psi_age] == [
        (T0 + 2 * MINUTE, 0.2),
        (T0 + 3 * MINUTE, 0.3),
        (T0 + 4 * MINUTE, 0.4),
    ]
    dataset = query_metric_points(session, unique_name, version="1", feature="", metric="count")
    assert len(dataset) == 10 and all(p.feature is None for p in dataset)
    window_order = [p.window_start for p in query_metric_points(session, unique_name)]
    assert window_order == sorted(window_order)
    assert len(query_metric_points(session, unique_name, limit=7)) == 7
    assert metric_names(session, unique_name) == ["count", "psi"]
    assert query_metric_points(session, f"{unique_name}-absent") == []


def test_span_latest_window_and_value_of_the_dataset_level(session: Session, unique_name: str) -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    upsert_metric_points(session, [
        MetricPointRecord(unique_name, "1", epoch, epoch, None, "f1", 0.9, 10),  # reference
        _point(unique_name, 0, None, "f1", 0.5), _point(unique_name, 1, None, "f1", None),
        _point(unique_name, 2, None, "count", 7.0), _point(unique_name, 3, "age", "psi", 0.1),
    ])
    assert window_span(session, unique_name, after=epoch) == (T0, T0 + 3 * MINUTE)
    assert window_span(session, "nothing-here", after=epoch) == (None, None)
    assert latest_dataset_window(session, unique_name, after=epoch) == T0 + 2 * MINUTE
    assert latest_dataset_window(session, unique_name, after=epoch,
                                 ended_by=T0 + 2 * MINUTE) == T0 + MINUTE
    assert latest_dataset_window(session, unique_name, after=epoch, metric="f1",
                                 defined=True) == T0
    assert dataset_value(session, unique_name, "f1", T0, after=epoch) == 0.5
    assert dataset_value(session, unique_name, "f1", epoch, after=epoch) is None
