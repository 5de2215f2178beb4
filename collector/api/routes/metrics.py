"""``GET /v1/models/{model}/metrics``: metric points of a model over time."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

import msgspec
from fastapi import APIRouter, Query, Response
from infersight.collector.api.deps import (
    Context,
    DbSession,
    ModelName,
    ReadKey,
    Windows,
    name_query,
    unknown_model,
)
from infersight.collector.api.errors import ERROR_RESPONSES
from pydantic import BaseModel

router = APIRouter(prefix="/v1", tags=["metrics"], responses=ERROR_RESPONSES)

MAX_POINTS = 100_000


class MetricPointView(BaseModel):
    """One metric of one window; ``feature`` null for dataset-level metrics."""

    window_start: datetime
    window_end: datetime
    version: str
    feature: str | None
    metric: str
    value: float | None
    """Null when undefined for the window (e.g. ROC AUC with one class)."""
    sample_size: int
    provisional: bool
    """True while the window is open: the model's watermark has not passed its end, so more
    events may still change the value."""


class _Point(msgspec.Struct, array_like=False):
    window_start: datetime
    window_end: datetime
    version: str
    feature: str | None
    metric: str
    value: float | None
    sample_size: int
    provisional: bool


_encoder = msgspec.json.Encoder()


@router.get("/models/{model}/metrics", response_model=list[MetricPointView])
def get_metrics(
    model: ModelName,
    session: DbSession,
    context: Context,
    _key: ReadKey,
    windows: Windows,
    version: Annotated[str | None, name_query()] = None,
    metric: Annotated[str | None, name_query("e.g. psi, drift_share, f1", max_length=64)] = None,
    feature: Annotated[str | None, name_query(
        "A feature; empty for dataset-level metrics only; omit for all.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS)] = 10_000,
) -> Response:
    """Points ``{window_start, window_end, version, feature, metric, value, sample_size,
    provisional}``, oldest first; ``provisional`` marks a window still open.

    Read as plain rows and encoded with msgspec: a 30-day series of 1-minute windows is
    43,200 points, which per-object validation would make several times slower.
    """
    from infersight.collector.api.provisional import is_open, window_closing
    from infersight.storage.metrics import metric_point_rows
    from infersight.storage.registry import get_model

    row = get_model(session, model)
    if row is None:
        raise unknown_model(session, model)
    # the worker's rule: closed once the watermark passed the end (the model's window length)
    closed_until = window_closing(session, model, context.config.lateness_fraction
                                  ).closed_until(row.window_seconds or context.config.window_s)
    rows = metric_point_rows(session, model, version=version, metric=metric, feature=feature,
                             start=windows.start, end=windows.end, limit=limit)
    points = [
        _Point(ws, we, v, f or None, m, None if value is None or not math.isfinite(value)
               else float(value), int(n), is_open(we, closed_until))
        for ws, we, v, f, m, value, n in rows
    ]
    return Response(_encoder.encode(points), media_type="application/json")
