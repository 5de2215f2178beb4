"""Metric points: one value per (model, version, window, feature, metric).

Re-evaluating a window upserts its points, never duplicates them. ``feature`` is ``''`` in
the table for dataset-level metrics and ``None`` in :class:`MetricPointRecord`. Undefined
values (NaN, infinities) are stored as NULL and read back as ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infersight.storage.models import MetricPoint
from infersight.storage.types import utc_now
from infersight.storage.upsert import upsert
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

DATASET_LEVEL = ""
"""The ``feature`` value stored for metrics that belong to no feature."""
REFERENCE_WINDOW_START = datetime(1970, 1, 1, tzinfo=UTC)
"""``metric_points.window_start`` of a version's reference metrics (e.g. reference ``f1``)."""


@dataclass(frozen=True, slots=True)
class MetricPointRecord:
    """A metric value of one window; ``feature`` None for dataset-level metrics."""

    model: str
    version: str
    window_start: datetime
    window_end: datetime
    feature: str | None
    metric: str
    value: float | None
    sample_size: int
    evaluated_at: datetime | None = None


def _stored_value(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


EVALUATION_MARKERS = ("count", "request_count")
"""The whole-model points whose ``evaluated_at`` tells when a window's drift state (``count``)
and its health state (``request_count``) were last evaluated: always rewritten."""

_KEY = ("model", "version", "window_start", "feature", "metric")
_UPDATE = ("window_end", "value", "sample_size", "evaluated_at")


def upsert_metric_points(session: Session, points: Iterable[MetricPointRecord]) -> int:
    """Write metric points in bulk; a re-evaluated point overwrites the stored one."""
    now = utc_now()
    rows = [
        {
            "model": p.model,
            "version": p.version,
            "window_start": p.window_start,
            "window_end": p.window_end,
            "feature": DATASET_LEVEL if p.feature is None else p.feature,
            "metric": p.metric,
            "value": _stored_value(p.value),
            "sample_size": p.sample_size,
            "evaluated_at": p.evaluated_at or now,
            "first_evaluated_at": p.evaluated_at or now,  # kept on conflict (not in _UPDATE)
        }
        for p in points
    ]
    return upsert(session, MetricPoint, rows, conflict=_KEY, update=_UPDATE,
                  update_where=_changed)


def _changed(excluded: Any, table: Any) -> Any:
    """A re-evaluated point is rewritten only if it changed (a late label changes a window's
    performance points, not its hundreds of drift points); the points the stale-window sweep
    reads ``evaluated_at`` of are always rewritten."""
    c = table.c
    return or_(*(c.metric == marker for marker in EVALUATION_MARKERS),
               c.value.is_distinct_from(excluded.value),
               c.sample_size.is_distinct_from(excluded.sample_size),
               c.window_end.is_distinct_from(excluded.window_end))


def _points_query(
    columns: tuple[Any, ...],
    model: str,
    *,
    version: str | None,
    metric: str | None,
    feature: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
) -> Select[Any]:
    """``columns`` of the points of ``model`` matching the filters, oldest first."""
    query = select(*columns).where(MetricPoint.model == model)
    if version is not None:
        query = query.where(MetricPoint.version == version)
    if metric is not None:
        query = query.where(MetricPoint.metric == metric)
    if feature is not None:
        query = query.where(MetricPoint.feature == feature)
    if start is not None:
        query = query.where(MetricPoint.window_start >= start)
    if end is not None:
        query = query.where(MetricPoint.window_start < end)
    query = query.order_by(
        MetricPoint.window_start, MetricPoint.version, MetricPoint.feature, MetricPoint.metric
    )
    return query if limit is None else query.limit(limit)


def query_metric_points(
    session: Session,
    model: str,
    *,
    version: str | None = None,
    metric: str | None = None,
    feature: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> list[MetricPointRecord]:
    """Points of ``model`` with ``window_start`` in ``[start, end)``, oldest first.

    ``feature=None`` returns every feature; ``feature=DATASET_LEVEL`` ('') only the
    dataset-level points.
    """
    query = _points_query((MetricPoint,), model, version=version, metric=metric,
                          feature=feature, start=start, end=end, limit=limit)
    return [
        MetricPointRecord(
            model=row.model,
            version=row.version,
            window_start=row.window_start,
            window_end=row.window_end,
            feature=row.feature or None,
            metric=row.metric,
            value=row.value,
            sample_size=row.sample_size,
            evaluated_at=row.evaluated_at,
        )
        for row in session.scalars(query)
    ]


def metric_point_rows(
    session: Session,
    model: str,
    *,
    version: str | None = None,
    metric: str | None = None,
    feature: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> Iterable[tuple[datetime, datetime, str, str, str, float | None, int]]:
    """The same points as :func:`query_metric_points` as plain tuples
    ``(window_start, window_end, version, feature, metric, value, sample_size)``, without
    building ORM objects (for long series; ``feature`` is '' at the dataset level)."""
    columns = (MetricPoint.window_start, MetricPoint.window_end, MetricPoint.version,
               MetricPoint.feature, MetricPoint.metric, MetricPoint.value,
               MetricPoint.sample_size)
    query = _points_query(columns, model, version=version, metric=metric, feature=feature,
                          start=start, end=end, limit=limit)
    return session.execute(query)  # rows unpack like tuples


def metric_names(session: Session, model: str) -> list[str]:
    """The distinct metric names stored for ``model``, sorted."""
    query = select(MetricPoint.metric).where(MetricPoint.model == model).distinct()
    return sorted(session.scalars(query))


def _dataset_level(model: str, after: datetime) -> list[ColumnElement[bool]]:
    return [MetricPoint.model == model, MetricPoint.feature == DATASET_LEVEL,
            MetricPoint.window_start > after]


def window_span(
    session: Session, model: str, *, after: datetime
) -> tuple[datetime | None, datetime | None]:
    """First and last ``window_start`` of the points of ``model`` later than ``after`` (the
    reference's own points are stored at the epoch); ``(None, None)`` without any."""
    first, last = session.execute(
        select(func.min(MetricPoint.window_start), func.max(MetricPoint.window_start))
        .where(MetricPoint.model == model, MetricPoint.window_start > after)
    ).one()
    return first, last


def latest_dataset_window(
    session: Session,
    model: str,
    *,
    after: datetime,
    metric: str | None = None,
    defined: bool = False,
    ended_by: datetime | None = None,
) -> datetime | None:
    """The latest window (after ``after``) with dataset-level points of ``model`` — of
    ``metric`` only, with a value (not NULL) when ``defined``, ending at or before
    ``ended_by`` — or None."""
    where = _dataset_level(model, after)
    if metric is not None:
        where.append(MetricPoint.metric == metric)
    if defined:
        where.append(MetricPoint.value.is_not(None))
    if ended_by is not None:
        where.append(MetricPoint.window_end <= ended_by)
    latest: datetime | None = session.scalar(select(func.max(MetricPoint.window_start))
                                             .where(*where))
    return latest


def dataset_value(
    session: Session, model: str, metric: str, window_start: datetime, *, after: datetime
) -> float | None:
    """The dataset-level value of ``metric`` in the window starting at ``window_start`` (the
    first version's when several versions have one), or None."""
    value: float | None = session.scalar(
        select(MetricPoint.value).where(*_dataset_level(model, after),
                                        MetricPoint.metric == metric,
                                        MetricPoint.window_start == window_start))
    return value
