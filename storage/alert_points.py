"""The metric-point reads the alert rules judge (``metric_points``, nothing written).

Live windows start after :data:`~infersight.storage.metrics.REFERENCE_WINDOW_START`; the
points stored at it are the version's reference metrics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from infersight.storage.metrics import REFERENCE_WINDOW_START
from infersight.storage.models import MetricPoint
from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.orm import Session


def reference_points(session: Session, model: str, version: str) -> dict[tuple[str, str], float]:
    """The reference metric points of (model, version): ``{(metric, feature): value}``."""
    rows = session.execute(
        select(MetricPoint.metric, MetricPoint.feature, MetricPoint.value).where(
            MetricPoint.model == model,
            MetricPoint.version == version,
            MetricPoint.window_start == REFERENCE_WINDOW_START,
        )
    )
    return {(metric, feature): value for metric, feature, value in rows if value is not None}


def _live(
    model: str, version: str, metrics: str | Sequence[str], ended_by: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = [
        MetricPoint.model == model,
        MetricPoint.version == version,
        MetricPoint.metric == metrics if isinstance(metrics, str)
        else MetricPoint.metric.in_(metrics),
        MetricPoint.window_start > REFERENCE_WINDOW_START,
    ]
    if ended_by is not None:  # ended, and its data first arrived, at least that long ago
        conditions.append(MetricPoint.window_end <= ended_by)
        conditions.append(
            func.coalesce(MetricPoint.first_evaluated_at, MetricPoint.window_end) <= ended_by)
    return conditions


def latest_window_starts(
    session: Session,
    model: str,
    version: str,
    metric: str,
    *,
    limit: int,
    ended_by: datetime | None = None,
) -> list[datetime]:
    """The latest ``limit`` window starts holding ``metric``, latest first (only windows
    ending at or before ``ended_by`` when it is given)."""
    return list(
        session.scalars(
            select(MetricPoint.window_start)
            .where(*_live(model, version, metric, ended_by))
            .distinct()
            .order_by(MetricPoint.window_start.desc())
            .limit(limit)
        )
    )


def points_in_windows(
    session: Session,
    model: str,
    version: str,
    metrics: str | Sequence[str],
    starts: Sequence[datetime],
    *,
    ended_by: datetime | None = None,
) -> list[Row[Any]]:
    """Every feature's point of ``metrics`` (one name or several, read in one query) in the
    windows starting at ``starts``: rows with a :class:`MetricPoint`'s column attributes
    (read only; rows load several times faster than ORM objects)."""
    statement = select(*MetricPoint.__table__.columns).where(
        *_live(model, version, metrics, ended_by), MetricPoint.window_start.in_(starts)
    )
    return list(session.execute(statement))


def dataset_values(
    session: Session, model: str, version: str, metric: str, starts: Sequence[datetime]
) -> dict[datetime, float | None]:
    """The dataset-level value of ``metric`` (e.g. the row ``count``) per window start."""
    rows = session.execute(
        select(MetricPoint.window_start, MetricPoint.value).where(
            MetricPoint.model == model,
            MetricPoint.version == version,
            MetricPoint.metric == metric,
            MetricPoint.feature == "",
            MetricPoint.window_start.in_(starts),
        )
    )
    return {start: value for start, value in rows}


def _feature_points(
    model: str, version: str, excluded: Sequence[str]
) -> list[ColumnElement[bool]]:
    return [
        MetricPoint.model == model,
        MetricPoint.version == version,
        MetricPoint.feature != "",
        *(MetricPoint.feature != name for name in excluded),
    ]


def top_feature_scores(
    session: Session,
    model: str,
    version: str,
    window_start: datetime,
    metric: str,
    *,
    above: float,
    limit: int,
    excluded: Sequence[str] = (),
) -> list[tuple[str, float]]:
    """``(feature, score)`` of the ``limit`` features whose ``metric`` is highest (and above
    ``above``) in the window, highest first; ``excluded`` features are left out."""
    rows = session.execute(
        select(MetricPoint.feature, MetricPoint.value)
        .where(
            *_feature_points(model, version, excluded),
            MetricPoint.window_start == window_start,
            MetricPoint.metric == metric,
            MetricPoint.value > above,
        )
        .order_by(MetricPoint.value.desc(), MetricPoint.feature)
        .limit(limit)
    )
    return [(feature, value) for feature, value in rows]


def feature_scores(
    session: Session,
    model: str,
    version: str,
    window_start: datetime,
    features: Sequence[str],
    metrics: Sequence[str],
    *,
    excluded: Sequence[str] = (),
) -> dict[str, dict[str, float | None]]:
    """``{feature: {metric: value}}`` of the given features and metrics in one window."""
    scores: dict[str, dict[str, float | None]] = {feature: {} for feature in features}
    rows = session.execute(
        select(MetricPoint.feature, MetricPoint.metric, MetricPoint.value).where(
            *_feature_points(model, version, excluded),
            MetricPoint.window_start == window_start,
            MetricPoint.feature.in_(features),
            MetricPoint.metric.in_(metrics),
        )
    )
    for feature, metric, value in rows:
        scores.setdefault(feature, {})[metric] = value
    return scores


def feature_score_history(
    session: Session,
    model: str,
    version: str,
    features: Sequence[str],
    metric: str,
    *,
    until: datetime,
    limit: int,
    excluded: Sequence[str] = (),
) -> list[tuple[str, datetime, Any]]:
    """``(feature, window_start, value)`` of ``metric`` for the features in live windows
    starting at or before ``until``, latest first, at most ``limit`` rows."""
    rows = session.execute(
        select(MetricPoint.feature, MetricPoint.window_start, MetricPoint.value)
        .where(
            *_feature_points(model, version, excluded),
            MetricPoint.feature.in_(features),
            MetricPoint.metric == metric,
            MetricPoint.window_start <= until,
            MetricPoint.window_start > REFERENCE_WINDOW_START,
        )
        .order_by(MetricPoint.window_start.desc())
        .limit(limit)
    )
    return [(feature, start, value) for feature, start, value in rows]


def daily_totals(
    session: Session, model: str, metric: str, *, days: int
) -> list[tuple[datetime, float, int, datetime]]:
    """``(day_start, total, sample_size, last_window_end)`` of the dataset-level ``metric``
    summed over every version's windows of ``model`` per UTC day (by window start), for the
    latest ``days`` days that hold it, latest first."""
    latest = session.scalar(
        select(func.max(MetricPoint.window_start)).where(
            MetricPoint.model == model, MetricPoint.metric == metric, MetricPoint.feature == "",
            MetricPoint.window_start > REFERENCE_WINDOW_START))
    if latest is None:
        return []
    latest = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
    last_day = latest.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(MetricPoint.window_start, MetricPoint.window_end, MetricPoint.value,
               MetricPoint.sample_size).where(
            MetricPoint.model == model, MetricPoint.metric == metric, MetricPoint.feature == "",
            MetricPoint.window_start >= last_day - timedelta(days=days - 1),
            MetricPoint.value.is_not(None)))
    values: dict[datetime, list[float]] = {}
    sizes: dict[datetime, int] = {}
    ends: dict[datetime, datetime] = {}
    for start, end, value, size in rows:
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        values.setdefault(day, []).append(value)
        sizes[day] = sizes.get(day, 0) + size
        ends[day] = max(ends.get(day, end), end)
    return [(day, math.fsum(values[day]), sizes[day], ends[day])
            for day in sorted(values, reverse=True)]
